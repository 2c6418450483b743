"""soundscope: tell what is heard in audio, at any scale.

Installable with `pip install -e .` (or `pip install .[test]`), and usable as
Beam's `--setup_file` so remote workers install the same packages.

Everything installs under one import namespace, `soundscope`: the design
card's top-level folders (configs/, transforms/, models/, pipelines/,
runtime/) become soundscope.configs, soundscope.transforms, ... through
package_dir, beside soundscope/ itself (the command line).  Nothing named
`models` or `configs` lands at the top level of a user's environment.
"""

import setuptools

# The design card's folders, each installed as soundscope.<folder>.
CARD_FOLDERS = ["configs", "transforms", "models", "pipelines", "runtime"]


def _packages():
  """Every package as installed (soundscope.models.store, ...) and where its folder is."""
  packages = setuptools.find_packages(include=["soundscope", "soundscope.*"])
  package_dir = {"soundscope": "soundscope"}
  for folder in CARD_FOLDERS:
    package_dir[f"soundscope.{folder}"] = folder
    found = setuptools.find_packages(include=[folder, folder + ".*"])
    packages += [f"soundscope.{name}" for name in found]
  return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()

# Pinned: versions known to install together on Python 3.11 (see README).
INSTALL_REQUIRES = [
    "apache-beam[tfrecord]==2.77.0",
    "tensorflow-cpu==2.21.0",
    "keras==3.15.1",
    "numpy==2.4.6",
    "pyarrow==25.0.1",
    "protobuf==6.33.6",
    "soundfile==0.14.0",
    "resampy==0.4.3",
    "ai-edge-litert==2.3.0",
    "tensorboard==2.21.0",  # `soundscope train` writes TensorBoard logs (tf.summary needs it).
    "threadpoolctl==3.8.0",  # `soundscope classify`: one BLAS thread per parallel job.
    "tqdm==4.70.1",  # Progress bars: model downloads, the Beam pipelines' progress line.
    "PyYAML==6.0.3",  # Label sets (configs/label_sets/*.yaml, classify --labels).
    "crcmod==1.7",  # TFRecord framing in pipelines/tfrecords.py: native CRC32C (also Beam's).
]
EXTRAS = {
    # Live capture needs PortAudio's headers to build (Debian: portaudio19-dev).
    # websockets: the DeviceHive WebSocket transport (ws:// server URLs).
    # paho-mqtt: the MQTT sink (capture/serve --mqtt).
    "live": ["pyaudio==0.2.14", "flask==3.1.3", "requests==2.34.2", "websockets==17.4",
             "paho-mqtt==2.2.0"],
    # --runner dask: Beam's Dask runner on a dask.distributed cluster (local or remote).
    "dask": ["apache-beam[dask]==2.77.0", "dask==2026.8.0", "distributed==2026.8.0"],
    "test": [
        "playwright==1.65.2",  # Drives Debian's chromium (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
        "pytest==9.0.3",
        "pandas==3.1.1",
        "psutil==7.2.2",
        "scikit-learn==1.9.1",  # Reference metrics for tests/test_metrics.py only.
        "sed_eval==0.2.1",  # Sound-event metrics (DCASE's), for the events evaluation.
        "pytest-xdist==3.8.0",
    ],
}
EXTRAS["dev"] = EXTRAS["live"] + EXTRAS["dask"] + EXTRAS["test"]

setuptools.setup(
    name="soundscope",
    version="0.1.0",
    description="Sound classification for audio archives, training embeddings and live microphones",
    python_requires=">=3.11,<3.12",
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    package_data={"soundscope.configs": ["*.json", "*.csv", "label_sets/*.yaml"],
                  "soundscope.runtime": ["web/*", "web/**/*"],
                  "soundscope.report": ["template.html", "*.css", "*.js"],
                  "soundscope.util": ["vendor/*"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["soundscope = soundscope.cli.main:console_main"]},
)
