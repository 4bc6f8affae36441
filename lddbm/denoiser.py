"""BridgeTransformer: the domain-agnostic denoiser F(c_in x_t, c_noise, x_T) of the latent bridge.

Reads top-down: patch helpers, blocks, then the model.

    source x_T (B,C,H,W) -> patches (B,N,p*p*C) -> linear + 2D sin-cos -> encoder blocks -> memory
    noisy  x_t (B,C,H,W) -> patches -> linear + 2D sin-cos -> [x_t tokens || mask tokens] (B,N+M,D)
        -> decoder blocks: adaLN-Zero(c_noise) self-attention, cross-attention to memory, MLP
        -> final adaLN + linear -> drop mask tokens -> unpatchify (B,C,H,W)

The mask tokens are learned extra queries (registers) that give the decoder working memory; they
are dropped before the output. Modulation and output layers start at zero, so an untrained model
outputs exactly zero and the preconditioned denoiser starts as D = c_skip x_t (DiT's adaLN-Zero).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps, get_2d_sincos_pos_embed

__all__ = ["BridgeTransformer", "ConfigMixin", "ModelMixin", "patchify", "unpatchify"]

TIME_SCALE = 1000.0  # c_noise = log(t)/4 spans about [-1.6, 1.1]; the sinusoids expect ~[0, 1000]


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/p * W/p, p*p*C), tokens in row-major order of the patch grid."""
    B, C, H, W = x.shape
    x = x.reshape(B, C, H // p, p, W // p, p)  # (B, C, h, p, w, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (B, h, w, p, p, C)
    return x.reshape(B, (H // p) * (W // p), p * p * C)


def unpatchify(tokens: torch.Tensor, p: int, C: int, H: int, W: int) -> torch.Tensor:
    """Inverse of patchify: (B, H/p * W/p, p*p*C) -> (B, C, H, W)."""
    B = tokens.shape[0]
    x = tokens.reshape(B, H // p, W // p, p, p, C)  # (B, h, w, p, p, C)
    x = x.permute(0, 5, 1, 3, 2, 4)  # (B, C, h, p, w, p)
    return x.reshape(B, C, H, W)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def mlp(dim: int, ratio: float) -> nn.Sequential:
    hidden = int(dim * ratio)
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))


class EncoderBlock(nn.Module):
    """Pre-norm self-attention + MLP over the source tokens."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = mlp(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """adaLN-Zero self-attention, cross-attention to the source memory, and MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = mlp(dim, mlp_ratio)
        self.ada_ln = nn.Sequential(nn.SiLU(), nn.Linear(dim, 9 * dim))  # shift, scale, gate x3

    def forward(self, x: torch.Tensor, memory: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mods = self.ada_ln(c).chunk(9, dim=-1)  # each (B, D)
        h = modulate(self.norm1(x), mods[0], mods[1])
        x = x + mods[2].unsqueeze(1) * self.self_attn(h, h, h, need_weights=False)[0]
        h = modulate(self.norm2(x), mods[3], mods[4])
        x = x + mods[5].unsqueeze(1) * self.cross_attn(h, memory, memory, need_weights=False)[0]
        h = modulate(self.norm3(x), mods[6], mods[7])
        return x + mods[8].unsqueeze(1) * self.mlp(h)


class FinalLayer(nn.Module):
    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada_ln = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, out_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada_ln(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class BridgeTransformer(ModelMixin, ConfigMixin):
    """Transformer denoiser over a (C, H, W) latent, conditioned on the source latent and time."""

    @register_to_config
    def __init__(
        self,
        in_channels: int = 4,
        sample_size: int = 8,  # latent height = width
        patch_size: int = 2,
        hidden_size: int = 256,
        depth: int = 6,  # decoder blocks
        encoder_depth: int = 2,  # source-encoder blocks
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        num_mask_tokens: int = 4,  # learned extra decoder tokens, dropped at the output
        num_classes: int = 0,  # > 0: a class-label condition added to the time embedding (index num_classes = none)
    ):
        super().__init__()
        if sample_size % patch_size:
            raise ValueError(f"sample_size {sample_size} is not divisible by patch_size {patch_size}.")
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}.")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}.")
        grid = sample_size // patch_size
        patch_dim = patch_size * patch_size * in_channels
        self.source_embed = nn.Linear(patch_dim, hidden_size)
        self.sample_embed = nn.Linear(patch_dim, hidden_size)
        pos = get_2d_sincos_pos_embed(hidden_size, (grid, grid), base_size=grid, output_type="pt")
        self.register_buffer("pos_embed", pos.float().unsqueeze(0), persistent=False)  # (1, N, D)
        self.mask_tokens = nn.Parameter(torch.zeros(1, num_mask_tokens, hidden_size))
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(256, hidden_size)
        # DiT's class embedding, with one extra row for "no label" (classifier-free guidance, lddbm.guidance)
        self.label_embed = nn.Embedding(num_classes + 1, hidden_size) if num_classes else None
        self.encoder = nn.ModuleList(EncoderBlock(hidden_size, num_heads, mlp_ratio) for _ in range(encoder_depth))
        self.encoder_norm = nn.LayerNorm(hidden_size)
        self.decoder = nn.ModuleList(DecoderBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth))
        self.final = FinalLayer(hidden_size, patch_dim)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.mask_tokens, std=0.02)
        if self.label_embed is not None:
            nn.init.normal_(self.label_embed.weight, std=0.02)
        for layer in (self.time_embed.linear_1, self.time_embed.linear_2):
            nn.init.normal_(layer.weight, std=0.02)
        for block in self.decoder:  # adaLN-Zero: every residual branch starts closed
            nn.init.zeros_(block.ada_ln[-1].weight)
            nn.init.zeros_(block.ada_ln[-1].bias)
        for layer in (self.final.ada_ln[-1], self.final.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def _check(self, name: str, x: torch.Tensor) -> None:
        c, s = self.config.in_channels, self.config.sample_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(f"BridgeTransformer expects {name} of shape (B, {c}, {s}, {s}), got {tuple(x.shape)}.")

    @property
    def null_label(self) -> int:
        """The label index that means "no label" (the embedding's extra row)."""
        return self.config.num_classes

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, source: torch.Tensor,
                class_labels: torch.Tensor | None = None) -> torch.Tensor:
        """sample: c_in x_t (B,C,H,W); timestep: c_noise (B,); source: x_T (B,C,H,W); class_labels (B,)
        in 0..num_classes (num_classes = no label; None = no label for all)."""
        self._check("sample", sample)
        self._check("source", source)
        p, B = self.config.patch_size, sample.shape[0]
        memory = self.source_embed(patchify(source, p)) + self.pos_embed  # (B, N, D)
        for block in self.encoder:
            memory = block(memory)
        memory = self.encoder_norm(memory)

        x = self.sample_embed(patchify(sample, p)) + self.pos_embed  # (B, N, D)
        n = x.shape[1]
        x = torch.cat([x, self.mask_tokens.expand(B, -1, -1)], dim=1)  # (B, N + M, D)
        t = timestep.reshape(-1).expand(B) if timestep.numel() == 1 else timestep
        c = self.time_embed(self.time_proj(t * TIME_SCALE).to(x.dtype))  # (B, D)
        if self.label_embed is not None:
            if class_labels is None:
                class_labels = torch.full((B,), self.null_label, dtype=torch.long, device=x.device)
            if class_labels.min() < 0 or class_labels.max() > self.null_label:
                raise ValueError(f"class_labels must lie in 0..{self.null_label} ({self.null_label} = no label).")
            c = c + self.label_embed(class_labels.to(x.device))
        elif class_labels is not None:
            raise ValueError("This denoiser has no label condition (num_classes = 0); pass class_labels=None.")
        for block in self.decoder:
            x = block(x, memory, c)
        x = self.final(x[:, :n], c)  # (B, N, p*p*C)
        s = self.config.sample_size
        return unpatchify(x, p, self.config.in_channels, s, s)
