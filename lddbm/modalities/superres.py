"""Super-resolution modalities: a low-resolution image encoder, and a high-resolution image
autoencoder whose latent is anchored on the low-resolution image.

The shared latent is (3 + detail_channels, L, L) for HR crops of L * hr_factor pixels:

    channels 0..2   the "anchor": the HR crop down-sampled to L x L with antialiased bicubic, the
                    same operator that makes the low-resolution input (so at x4 the target
                    latent's anchor *is* the LR image, and the bridge only has to carry it over)
    channels 3..    learned detail features, standardised per sample to std sigma_data

The HR decoder adds a learned residual to a bicubic up-sampling of the anchor, and its residual
head starts at zero, so an untrained decoder already returns the bicubic upscale and every part
of the chain trains from bicubic quality upwards (a from-scratch image autoencoder on a CPU budget
spends most of its time re-learning interpolation).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from .common import ResBlock, check_latent_layout, group_norm, standardize_latent
from .image import IMAGE_OUTPUT_TYPES, images_to_tensor, postprocess_images

__all__ = ["AnchoredImageDecoder", "AnchoredImageEncoder", "ConfigMixin", "LowResEncoder", "ModelMixin"]

ANCHOR_CHANNELS = 3


def downsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bicubic resize of (B, 3, H, W) to (B, 3, size, size) (close to PIL's BICUBIC)."""
    return F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)


def upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False)


NORMS = ("group", "none")


def _trunk(in_ch: int, width: int, blocks: int, out_ch: int, norm: str = "group") -> nn.Sequential:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}.")
    use = norm == "group"
    layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 3, padding=1)]
    layers += [ResBlock(width, norm=use) for _ in range(blocks)]
    layers += [group_norm(width, use), nn.SiLU(), nn.Conv2d(width, out_ch, 3, padding=1)]
    return nn.Sequential(*layers)


def _hr_factor(image_size: int, latent_channels: int, latent_size: int, what: str = "image_size / latent_size") -> int:
    """image_size / latent_size, checked to be a power of two, with room for detail channels."""
    check_latent_layout(latent_channels, latent_size)
    if latent_channels <= ANCHOR_CHANNELS:
        raise ValueError(f"latent_channels must exceed the {ANCHOR_CHANNELS} anchor channels, got {latent_channels}.")
    factor = image_size // latent_size
    if image_size % latent_size or factor & (factor - 1):
        raise ValueError(f"{what} must be a power of two, got {image_size} / {latent_size}.")
    return factor


class LowResEncoder(ModelMixin, ConfigMixin):
    """LR image (B, 3, s, s) in [-1, 1] -> latent (B, 3 + detail, L, L): the LR image resized to L
    (bicubic, identity at x4) as the anchor, plus standardised detail features predicted from it.

    With ``anchor_blocks`` the anchor is the resized input plus a learned correction (zero at
    init): for inputs that are *not* the clean down-sampling of the target — JPEG blocks, noise,
    blur, or x8, where the input is coarser than the latent — the anchor is still carried over
    unchanged by the bridge (``Bridge.shared_channels``), so the correction is what cleans it. It
    is trained by the predictive loss, which decodes the one-step estimate (whose anchor is this
    one) and compares it with the high-resolution target. Bridging the anchor instead makes the
    transformer rebuild the whole image through its patch tokens: after 500 steps that scored 7 dB
    below bicubic.

    ``back_projection`` is not used here: it records, with the checkpoint, how many iterations of
    back-projection ``lddbm.tasks.superres.upscale.upscale`` applies to the whole result by default
    (``tiling.back_project``): 2 for a model of clean, bicubic-shrunk inputs, 0 for JPEG or noisy ones."""

    @register_to_config
    def __init__(
        self,
        image_size: int = 32,  # LR tile side
        latent_channels: int = 19,
        latent_size: int = 32,
        width: int = 64,
        blocks: int = 4,
        sigma_data: float = 0.5,
        anchor_blocks: int = 0,  # residual blocks that correct the anchor; 0: the (resized) input as it is
        norm: str = "group",  # "none": no GroupNorm in the conv trunks (EDSR-style)
        back_projection: int = 0,  # iterations of back-projection onto the input after upscaling (read by ``upscale``)
    ):
        super().__init__()
        _hr_factor(latent_size, latent_channels, image_size, "latent_size / image_size (LR tile)")
        self.net = _trunk(ANCHOR_CHANNELS, width, blocks, latent_channels - ANCHOR_CHANNELS, norm)
        if anchor_blocks:
            self.anchor_net = _trunk(ANCHOR_CHANNELS, width, anchor_blocks, ANCHOR_CHANNELS, norm)
            nn.init.zeros_(self.anchor_net[-1].weight)  # starts as the input itself
            nn.init.zeros_(self.anchor_net[-1].bias)

    def preprocess(self, inputs) -> torch.Tensor:
        """PIL images or image files of s x s pixels, or arrays/tensors (B, 3, s, s) in [-1, 1] -> float
        tensor on this device (whole images of any size: ``lddbm.tasks.superres.upscale.upscale``)."""
        return images_to_tensor(inputs, 3, self.config.image_size).to(self.device, self.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = self.config.latent_size // self.config.image_size
        resized = x if factor == 1 else upsample(x, factor)
        detail = standardize_latent(self.net(resized), self.config.sigma_data)
        anchor = resized + self.anchor_net(resized) if self.config.anchor_blocks else resized
        return torch.cat([anchor, detail], dim=1)


class AnchoredImageEncoder(ModelMixin, ConfigMixin):
    """HR image (B, 3, S, S) -> latent (B, 3 + detail, L, L): the antialiased bicubic down-sampling
    (anchor) and standardised features of what the anchor misses (the HR residual, folded into
    channels by pixel-unshuffle)."""

    @register_to_config
    def __init__(
        self,
        image_size: int = 128,
        latent_channels: int = 19,
        latent_size: int = 32,
        width: int = 64,
        blocks: int = 2,
        sigma_data: float = 0.5,
        norm: str = "group",
    ):
        super().__init__()
        factor = _hr_factor(image_size, latent_channels, latent_size)
        in_ch = ANCHOR_CHANNELS + 3 * factor * factor
        self.net = _trunk(in_ch, width, blocks, latent_channels - ANCHOR_CHANNELS, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L = self.config.latent_size
        factor = self.config.image_size // L
        anchor = downsample(x, L)
        residual = F.pixel_unshuffle(x - upsample(anchor, factor), factor)  # (B, 3 f^2, L, L)
        detail = standardize_latent(self.net(torch.cat([anchor, residual], dim=1)), self.config.sigma_data)
        return torch.cat([anchor, detail], dim=1)


class AnchoredImageDecoder(ModelMixin, ConfigMixin):
    """Latent (B, 3 + detail, L, L) -> HR image (B, 3, S, S): bicubic up-sampling of the anchor plus
    a residual predicted at the latent resolution and unfolded by pixel-shuffle (ESPCN-style).

    With ``refine_blocks`` a second stage reads that image back (folded by pixel-unshuffle, beside the
    latent) and adds a correction of its own: every HR pixel's neighbourhood, not only the latent, informs
    the result. Its last layer starts at zero, so a decoder given refine blocks starts as the one without
    (a shipped checkpoint fine-tuned with them, ``--init-from``, starts from its own output).

    ``anchor_projection`` back-projects the image onto the anchor that many times inside the network (the
    consistency ``upscale`` applies afterwards, ``tiling.back_project``, but trained through): the residual
    then only has to be right where the anchor says nothing. Only for anchors that are the HR image's
    down-sampling (clean x4 inputs)."""

    output_types = IMAGE_OUTPUT_TYPES

    @register_to_config
    def __init__(
        self,
        image_size: int = 128,
        latent_channels: int = 19,
        latent_size: int = 32,
        width: int = 64,
        blocks: int = 4,
        loss: str = "l1",
        refine_blocks: int = 0,  # residual blocks of the second stage (0: none)
        norm: str = "group",
        anchor_projection: int = 0,  # back-projection iterations onto the anchor inside the decoder (0: none)
    ):
        super().__init__()
        factor = _hr_factor(image_size, latent_channels, latent_size)
        if loss not in ("l1", "mse"):
            raise ValueError(f"loss must be 'l1' or 'mse', got {loss!r}.")
        self.net = _trunk(latent_channels, width, blocks, 3 * factor * factor, norm)
        nn.init.zeros_(self.net[-1].weight)  # start as plain bicubic up-sampling of the anchor
        nn.init.zeros_(self.net[-1].bias)
        if refine_blocks:
            self.refine = _trunk(latent_channels + 3 * factor * factor, width, refine_blocks, 3 * factor * factor, norm)
            nn.init.zeros_(self.refine[-1].weight)  # starts as the first stage's image
            nn.init.zeros_(self.refine[-1].bias)

    @property
    def factor(self) -> int:
        return self.config.image_size // self.config.latent_size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        anchor = z[:, :ANCHOR_CHANNELS]
        image = upsample(anchor, self.factor) + F.pixel_shuffle(self.net(z), self.factor)
        if self.config.refine_blocks:
            folded = F.pixel_unshuffle(image, self.factor)
            image = image + F.pixel_shuffle(self.refine(torch.cat([z, folded], dim=1)), self.factor)
        for _ in range(self.config.anchor_projection):  # the image whose down-sampling is the anchor (x4: the input)
            image = image + upsample(anchor - downsample(image, anchor.shape[-1]), self.factor)
        return image

    def reconstruction_loss(self, decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """L1 by default: the usual choice for PSNR-oriented super-resolution (sharper than MSE)."""
        fn = F.l1_loss if self.config.loss == "l1" else F.mse_loss
        return fn(decoded.float(), target.float())

    def postprocess(self, decoded: torch.Tensor, output_type: str = "pt"):
        return postprocess_images(decoded, output_type)
