"""k-means labels for the distribution-aware filters (``hybrid``, ``cluster_balanced``): scikit-learn's KMeans."""

from __future__ import annotations

import warnings

import numpy as np


def k_means(vectors: np.ndarray, k: int, *, seed: int) -> np.ndarray:
    """Cluster labels from scikit-learn's KMeans (k-means++ initialisation, Arthur & Vassilvitskii 2007; 3 seeded restarts).

    Deterministic for a seed. With fewer distinct points than ``k`` some clusters stay empty.
    """
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        # fewer distinct points than clusters: sklearn warns and leaves some clusters empty, which is fine here
        warnings.simplefilter("ignore")
        model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(np.asarray(vectors, dtype=np.float64))
    return np.asarray(model.labels_, dtype=np.int64)
