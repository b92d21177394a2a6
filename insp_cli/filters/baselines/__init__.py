"""Classical filters the paper compares INSP-Net against, one module per modality (``images``, ``audio``)."""
