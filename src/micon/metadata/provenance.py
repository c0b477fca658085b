"""Bind outputs written together by a content digest each records, checked where they are read together.

A run writes some outputs as a set: the crop index with the crop store and crop masks (one extraction),
and a method's crop embeddings with the checkpoint they were made from. Each output is written
atomically, but a run killed between two of them leaves a new one next to an old one, and both load.
So each records the digest of the write it belongs to, and a stage reading them together refuses a pair
from different writes (:func:`require_same_write`):

- the crop store and crop masks record the extraction's digest in their own ``meta.json``
  (``write_id``), the crop index in its table metadata (``DataFrame.attrs``, kept in the parquet file's
  metadata, so no column is added to the rows);
- crop embeddings record, in their table metadata, the crop store's digest and the digest of the
  checkpoint's content (:func:`checkpoint_digest`, computed from the checkpoint itself, so the checkpoint
  format is unchanged).

A digest is a content hash (BLAKE2b), so rewriting identical outputs gives the identical digest: a pair is
refused only when its contents differ. Tables and stores without a digest (built by hand, or written
before digests were recorded) are accepted only when neither side of a pair records one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from micon.errors import MismatchedOutputsError

__all__ = [
    "CHECKPOINT_ID",
    "CROP_STORE_ID",
    "checkpoint_digest",
    "content_digest",
    "recorded_id",
    "require_crops_of_index",
    "require_embeddings_of_checkpoint",
    "require_same_write",
    "with_ids",
]

#: Table-metadata key (``DataFrame.attrs``) of the crop extraction a table was made from.
CROP_STORE_ID = "micon_crop_store_id"
#: Table-metadata key of the checkpoint a table of embeddings was made with.
CHECKPOINT_ID = "micon_checkpoint_id"

_DIGEST_BYTES = 16


def content_digest(parts: Iterable[np.ndarray | pd.DataFrame | str | bytes]) -> str:
    """Return a hex BLAKE2b digest of ``parts`` in order (arrays by dtype, shape and bytes; tables by rows).

    Tables are hashed by their column names and ``pd.util.hash_pandas_object`` of their rows (the index
    ignored), so a table read back from parquet hashes as the one written.
    """
    digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(json.dumps([str(c) for c in part.columns]).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        elif isinstance(part, np.ndarray):
            digest.update(f"{part.dtype.str}{part.shape}".encode())
            # Hashed in blocks along axis 0 so a large (memory-mapped) array is never copied whole.
            flat = part.reshape(part.shape[0], -1) if part.ndim > 1 else part.reshape(1, -1)
            step = max(1, (64 * 2**20) // max(1, flat[:1].nbytes))
            for start in range(0, flat.shape[0], step):
                digest.update(np.ascontiguousarray(flat[start : start + step]).tobytes())
        elif isinstance(part, str):
            digest.update(part.encode())
        else:
            digest.update(bytes(part))
    return digest.hexdigest()


def checkpoint_digest(checkpoint: Mapping[str, Any]) -> str:
    """Return the digest of a checkpoint's content: its method, config and every weight (by name).

    Computed from the checkpoint dict itself (as saved or as loaded with ``weights_only=True``), so it
    needs no field in the checkpoint: the checkpoint loaded back from disk gives the same digest.
    """
    header = json.dumps(
        {"method": checkpoint.get("method"), "config": checkpoint.get("config")}, sort_keys=True, default=str
    )
    # Imported here: only checkpoints need torch, and the metadata layer is imported by every stage.
    import torch  # noqa: PLC0415

    state = checkpoint.get("state_dict", {})
    parts: list[np.ndarray | str] = [header]
    for name in sorted(state):
        raw = state[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        parts.extend([f"{name}:{state[name].dtype}:{tuple(state[name].shape)}", raw.numpy()])
    return content_digest(parts)


def with_ids(table: pd.DataFrame, **ids: str | None) -> pd.DataFrame:
    """Return ``table`` (not copied) recording ``ids`` in its table metadata (``attrs``); None: removed."""
    for key, value in ids.items():
        if value is None:
            table.attrs.pop(key, None)
        else:
            table.attrs[key] = str(value)
    return table


def recorded_id(table: pd.DataFrame, key: str) -> str | None:
    """Return the id ``table`` records under ``key`` (None when it records none)."""
    value = table.attrs.get(key)
    return None if value is None else str(value)


def require_same_write(
    first_id: str | None, second_id: str | None, *, first: str, second: str, fix: str
) -> None:
    """Refuse two outputs that record different writes (or only one of them records a write).

    Args:
        first_id: The write id ``first`` records (None: none recorded).
        second_id: The write id ``second`` records.
        first: How messages name the first output (``"crop_index"``).
        second: How messages name the second (``"crop_store"``).
        fix: What to do about it (``"run data_engineering again"``).

    Raises:
        MismatchedOutputsError: The ids differ, or one output records an id and the other none; the
            message names both outputs, both ids and the fix.
    """
    if first_id == second_id:
        return
    raise MismatchedOutputsError(
        f"{first} (write {first_id or 'not recorded'}) and {second} (write {second_id or 'not recorded'}) "
        f"come from different writes: a run was interrupted between them, or one was replaced alone; "
        f"{fix}"
    )


def require_crops_of_index(crop_index: pd.DataFrame, store: Any, store_name: str) -> None:
    """Refuse a crop store (as loaded: its ``write_id``) that another extraction than ``crop_index``'s wrote.

    Args:
        crop_index: The crop index, recording its extraction under :data:`CROP_STORE_ID`.
        store: The store as loaded (``micon.datasets.CropArray``; a store without ``write_id``: None).
        store_name: How messages name the store (``"crop_store"``, ``"crop_masks"``).

    Raises:
        MismatchedOutputsError: The store's write id is not the one the index records (names both).
    """
    require_same_write(
        recorded_id(crop_index, CROP_STORE_ID),
        getattr(store, "write_id", None),
        first="crop_index",
        second=store_name,
        fix="run the data_engineering pipeline again to rewrite them together",
    )


def require_embeddings_of_checkpoint(
    embeddings: pd.DataFrame, checkpoint: Mapping[str, Any], *, method: str
) -> None:
    """Refuse crop embeddings that another checkpoint than ``checkpoint`` made (a stage reading both).

    Args:
        embeddings: ``<method>.crop_embeddings``, recording its checkpoint under :data:`CHECKPOINT_ID`.
        checkpoint: ``<method>.model_checkpoint`` as loaded.
        method: The method, for messages.

    Raises:
        MismatchedOutputsError: The digest the embeddings record is not the checkpoint's (names both).
    """
    require_same_write(
        recorded_id(embeddings, CHECKPOINT_ID),
        checkpoint_digest(checkpoint),
        first=f"{method}.crop_embeddings",
        second=f"{method}.model_checkpoint",
        fix="run the modeling pipeline again to embed the crops with this checkpoint",
    )
