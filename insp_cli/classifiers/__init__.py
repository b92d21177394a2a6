"""Classifiers of INRs (paper Sec. 5.3, Table 1).

Rooms: ``convnet`` (INSP-ConvNet: jets in, jets through every layer), ``depthwise_cnn`` (its pixel twin on
decoded images), ``weight_space`` (PCA + SVM and an MLP on the flattened weights), ``kinds`` (each model kind
builds its model and its own inputs from a store: one registry, ``KINDS``), ``splits`` (labelled train/test
stores and their checks) and ``trainer`` (cross-entropy training on ``training.train_steps``, its checkpoint).
"""
