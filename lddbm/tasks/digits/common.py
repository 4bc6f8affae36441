"""What the cross-modal digits modules share: the stored image side, the splits, the classes."""

SIZE = 32  # stored image side (SVHN's)
SPLITS = ("train", "val", "test")
CLASSES = 10
