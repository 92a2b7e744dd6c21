"""Training data as one uint8 tensor: FashionMNIST IDX files, folders of images (and their caches), synthetic blobs,
adapted to a network's input shape (load); which files of a folder are data (files)."""
