"""The event-camera data path: readers (N-MNIST `.bin`, AEDAT 3.1), DVS Gesture labels and split,
framing into (T, 2, H, W) tensors with a disk cache, the embedded synthetic N-MNIST-style dataset, the
seeded stratified train/validation split, and event-level corruptions (composable seeded transforms).
"""

from .aedat import read_aedat
from .cache import FrameCache
from .corruptions import CORRUPTIONS, Compose, corrupt, corrupted_frames, make_corruption
from .events import EVENT_DTYPE, EventFileError, LabelFileError
from .framing import FrameSpec, collate_time_major, frame_events
from .gesture import DVSGestureDataset, read_labels, read_split
from .loading import FramedDataset, has_split, load_frames, open_events
from .nmnist import NMNISTDataset, read_nmnist, write_nmnist
from .splits import stratified_split
from .synthetic import ensure_synthetic, generate_synthetic, images_to_events

__all__ = [
    "CORRUPTIONS", "Compose", "DVSGestureDataset", "EVENT_DTYPE", "EventFileError", "FrameCache", "FrameSpec",
    "FramedDataset", "LabelFileError", "NMNISTDataset", "collate_time_major", "corrupt", "corrupted_frames",
    "ensure_synthetic", "frame_events", "generate_synthetic", "has_split", "images_to_events", "load_frames",
    "make_corruption", "open_events", "read_aedat", "read_labels", "read_nmnist", "read_split", "stratified_split",
    "write_nmnist",
]
