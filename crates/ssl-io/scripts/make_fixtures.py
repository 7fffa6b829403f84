"""Writes tests/fixtures/*.npy with numpy itself: the layouts ssl_io::npy must read (float32 and
float64, C and Fortran order, both byte orders, format versions 1.0/2.0/3.0, integer labels of
several widths). Values are small integers and halves, exact in float32. Run once:

    PYTHONPATH=.deps/torch-2.11.0 python3 crates/ssl-io/scripts/make_fixtures.py
"""
import os

import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
os.makedirs(out, exist_ok=True)

# Element [r, c] of every matrix fixture is 10 * r + c / 2 - 3.
m = np.fromfunction(lambda r, c: 10 * r + c / 2 - 3, (3, 4))


def save(name, a, version=None):
    with open(os.path.join(out, name), "wb") as f:
        if version is None:
            np.save(f, a)
        else:
            np.lib.format.write_array(f, a, version=version)


save("matrix_f32.npy", m.astype("<f4"))
save("matrix_f64_fortran.npy", np.asfortranarray(m.astype("<f8")))
save("matrix_f32_big_endian.npy", m.astype(">f4"))
save("matrix_f64_v2.npy", m.astype("<f8"), version=(2, 0))
save("matrix_f32_fortran_v3.npy", np.asfortranarray(m.astype("<f4")), version=(3, 0))
labels = np.array([3, 1, 4, 1, 5, 9, 2, 6])
save("labels_i64.npy", labels.astype("<i8"))
save("labels_i32_big_endian.npy", labels.astype(">i4"))
save("labels_u8.npy", labels.astype("u1"))
save("labels_i16.npy", labels.astype("<i2"))
save("labels_u32.npy", labels.astype("<u4"))
# uint8 (N, H, W) = (2, 3, 4), element [n, y, x] = 100 n + 10 y + x, stored Fortran-ordered.
save("images_u8_fortran.npy", np.asfortranarray(np.fromfunction(lambda n, y, x: 100 * n + 10 * y + x, (2, 3, 4)).astype("u1")))
