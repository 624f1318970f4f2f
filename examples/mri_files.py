"""Your own MRI files: predict on a DICOM series and a NIfTI volume with the bundled model.

Runs offline in a few seconds: ``python examples/mri_files.py`` (needs the ``mri`` extra:
``pip install "brainvit-effnet[mri]"``). It writes a small DICOM series and a NIfTI volume from
two bundled Figshare slices, as a scanner or a conversion tool would, then runs
``brainvit-effnet predict`` on both and prints the CSV: one row per slice and one per volume.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from brainvit_effnet.cli import main
from brainvit_effnet.data.sample import sample_root
from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS

try:
    import nibabel as nib
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
except ImportError:
    print('This example needs the mri extra: pip install "brainvit-effnet[mri]"')
    raise SystemExit(0) from None

slices = [np.asarray(Image.open(sample_root() / "images" / n).convert("L")) for n in ("1.png", "1029.png")]

with tempfile.TemporaryDirectory() as tmp:
    # A DICOM series: 12-bit values with a rescale, one file per slice, one SeriesInstanceUID.
    series, uid = Path(tmp) / "series", generate_uid()
    series.mkdir()
    for i, pixels in enumerate(slices, start=1):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = MRImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "MR", "anon-01", "1.2.3", uid
        ds.InstanceNumber, (ds.Rows, ds.Columns) = i, pixels.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        ds.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
        ds.save_as(series / f"IM{i:04d}.dcm", enforce_file_format=True)

    # A NIfTI volume in RAS+ (x: right, y: anterior, z: superior): the same slices stacked along z,
    # as a converter such as dcm2niix writes them from the series.
    volume = np.stack([s[::-1, ::-1].T for s in slices], axis=-1).astype(np.int16)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), str(Path(tmp) / "t1.nii.gz"))

    out = Path(tmp) / "predictions.csv"
    model = str(BUNDLED_WEIGHTS[BUNDLED_MODEL])
    main(["predict", model, str(series), str(Path(tmp) / "t1.nii.gz"), "--out", str(out)])
    for row in csv.DictReader(out.open()):
        name = row["path"].replace(tmp, "<tmp>")
        print(f"{row['kind']:<6} {row['predicted']:<10} slices={row['slices'] or '-':<4} {name}")
