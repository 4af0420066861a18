"""The one image reader/writer of shallowdof: :mod:`.read`, :mod:`.write` and :mod:`.layout`.

Conventions at this boundary (docs/ARCHITECTURE.md):

* images are numpy ``uint8`` RGB ``H×W×3`` (``H×W×4`` RGBA only where a function says so);
* masks are ``float32`` ``H×W`` in [0, 1];
* depth maps are ``float32`` ``H×W``, larger = farther.

Photos and their person masks (:mod:`.layout`; docs/ARCHITECTURE.md, "Image and mask layout"):
the mask of ``DIR/sub/NAME.EXT`` is ``DIR_masks/sub/NAME.png``, 8-bit greyscale, 255 = person, where ``DIR``
is the photo folder a program is given (or each split folder of a dataset). :func:`mask_path`
is the one mapping, :func:`list_photos` lists a folder's photos once each (skipping mask
folders, reporting two photos that would share one mask) and :func:`read_mask_for` reads a
photo's mask. Photos are never rewritten to carry their mask. :data:`SPLITS` names a dataset's
split folders.

Reading (:mod:`.read`) is strict: only regular files are opened (``plumbing.files.open_regular``:
never a folder, FIFO or device), and every problem with a file (missing, empty, truncated, corrupt,
not an image, above the pixel limit or with a side above :data:`MAX_SIDE`, unsupported mode, a
depth map of the wrong size or with negative distances) raises
:class:`ImageError` whose message is ``"PATH: problem"`` -- one line that a batch program can
print before going on with the next file. Truncated files are never half-decoded: images are
fully decoded with ``Image.load()`` and Pillow's ``LOAD_TRUNCATED_IMAGES`` is left off.
:func:`read_image_reduced` reads the same way at a reduced size (JPEG draft mode) for programs
that only need a smaller copy (curation). :func:`read_photo` also returns the photo's
:class:`PhotoInfo` (:mod:`.meta`: format, ICC profile, EXIF made ready for an output), which
:func:`write_image` writes back on a processed photo; :func:`output_suffix` picks the output's
format (the input's by default: a JPEG gives a JPEG).

Writing (:mod:`.write`) is atomic: every writer goes through ``plumbing.files.atomic_path`` (a
temporary file in the target's folder, fsynced and renamed onto it), so no partial output is ever visible under the
final name; :func:`write_images` writes a batch with one folder fsync for all (curation's thumbnails).
"""
from .layout import (MASK_FOLDER_SUFFIX, SPLITS, is_mask_folder, list_images, list_photos, mask_path, mask_root,
                     photo_root, read_mask_for)
from .meta import OUTPUT_FORMATS, PhotoInfo, output_suffix
from .read import (DEFAULT_MAX_PIXELS, DEPTH_PNG_SCALE, DEPTH_UNITS, IMAGE_EXTENSIONS, MAX_PIXELS_CEILING, MAX_SIDE,
                   ImageError, check_side, open_image, read_depth, read_depth_with_unit, read_exif, read_focal_35mm,
                   read_image, read_image_reduced, read_image_with_alpha, read_mask, read_photo, shrink_to,
                   upright_size)
from .write import write_depth, write_image, write_images, write_mask

__all__ = ["DEFAULT_MAX_PIXELS", "DEPTH_PNG_SCALE", "DEPTH_UNITS", "IMAGE_EXTENSIONS", "ImageError", "MASK_FOLDER_SUFFIX",
           "MAX_PIXELS_CEILING", "MAX_SIDE", "OUTPUT_FORMATS", "PhotoInfo", "SPLITS", "check_side", "is_mask_folder",
           "list_images", "list_photos", "mask_path", "mask_root", "open_image", "output_suffix", "photo_root",
           "read_depth", "read_depth_with_unit", "read_exif", "read_focal_35mm", "read_image", "read_image_reduced",
           "read_image_with_alpha", "read_mask", "read_mask_for", "read_photo", "shrink_to", "upright_size",
           "write_depth", "write_image", "write_images", "write_mask"]
