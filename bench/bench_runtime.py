"""Live runtime speed: cost of one window, window-end -> notification latency, idle CPU.

  python bench/bench_runtime.py [--model yamnet] [--model-dir DIR] [--vggish-head]
                                [--windows 16] [--pace 4] [--idle-windows 12]
                                [--transport rest|websocket]

(a) one 5 s window at 44.1 kHz: the shared transforms' resampling to 16 kHz,
    then Classifier.clip_scores (median and p95 of 20 runs) for each model;
(b) latency from the end of a window (its last block arriving) to its DeviceHive
    notification arriving at a local DeviceHive server on loopback, through the
    whole serve stack in one process: capture thread, loop, web hub with one
    page subscribed to /api/stream, outbox, courier, over DeviceHive's REST or
    WebSocket API (--transport).  The source replays ESC-10
    clips up to `--pace` times faster than real time (the work per window is the
    same), slower for a model that would not keep up with a 2x margin;
(c) CPU used by that stack between windows at real-time pace: process CPU time
    minus the CPU time of classifying, divided by wall time.
The source stands in for PortAudio (whose ALSA file plugin cannot pace itself):
it sleeps one block length per 0.1 s block, as a microphone's driver would.
Without --model-dir the official YAMNet from ../shared/assets is imported into a
temporary store.  --vggish-head adds VGGish + a head (see vggish_head_classifier);
a trained head in a store is measured with --model NAME --model-dir DIR.
"""

import argparse
import pathlib
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from bench import common  # noqa: E402

common.quiet_tensorflow()

import soundfile  # noqa: E402

from devicehive_server import DeviceHiveServer  # noqa: E402  (tests/devicehive_server.py)
from soundscope.models.store import files as store_lib  # noqa: E402
from soundscope.models.store import registry  # noqa: E402
from soundscope.runtime import capture as capture_lib  # noqa: E402
from soundscope.runtime import config as config_lib  # noqa: E402
from soundscope.runtime import courier as courier_lib  # noqa: E402
from soundscope.runtime import loop as loop_lib  # noqa: E402
from soundscope.runtime import outbox as outbox_lib  # noqa: E402
from soundscope.cli import serve as serve_cli  # noqa: E402
from soundscope.runtime import sinks as sinks_lib  # noqa: E402
from soundscope.runtime import web  # noqa: E402
from soundscope.runtime import windows  # noqa: E402
from soundscope.runtime.web import hub as hub_lib  # noqa: E402

CLIPS = ["audio/esc10/1-100032-A-0.flac", "audio/esc10/1-17367-A-10.flac",
         "audio/esc10/1-110389-A-0.flac", "audio/esc10/1-21189-A-10.flac"]


class PacedSource:
  """Blocks of the clips, in a loop, one 0.1 s block per 0.1 s / pace of wall time."""

  def __init__(self, samples, rate, pace, block_seconds=0.1):
    self.samples, self.rate, self.pace = samples.reshape(-1, 1), rate, pace
    self.block = int(rate * block_seconds)
    self.overflows, self.device, self._at, self._closed = 0, None, 0, False
    self._next = None

  def open(self):
    self._next = time.monotonic()
    return self

  def read(self, timeout):
    if self._closed:
      return None
    self._next += self.block / self.rate / self.pace
    time.sleep(max(0.0, self._next - time.monotonic()))
    start = self._at % (len(self.samples) - self.block)
    self._at += self.block
    return self.samples[start:start + self.block], time.monotonic(), self._at - self.block

  def close(self):
    self._closed = True


def vggish_head_classifier(scratch, model="FrameLevelLogisticModel"):
  """VGGish + an untrained head of the trainer's default model (timing does not
  depend on the weights), with the deterministic VGGish checkpoint."""
  from soundscope.models.store import heads
  from soundscope.models.training import train
  config = train.TrainConfig(train_data="", train_dir=str(scratch / "train"), model=model)
  head_dir = heads.export_head(train.build_model(config), scratch / "heads" / "bench-head",
                               common.require_asset("audioset/class_labels_indices.csv"),
                               model_class=model)
  return heads.load_head_classifier(
      head_dir, vggish_checkpoint=common.vggish_checkpoint(),
      pca_params=str(common.require_asset("vggish/vggish_pca_params.npz")))


def percentiles(values):
  values = sorted(values)
  p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
  return statistics.median(values), p95


def load_clips():
  parts, rate = [], None
  for relative in CLIPS:
    samples, rate = soundfile.read(str(common.require_asset(relative)), dtype="int16")
    parts.append(samples)
  return np.concatenate(parts), rate


def window_cost(classifier, samples, rate, runs=20):
  """(resample median, p95), (classify median, p95) in seconds for 5 s windows."""
  resample, classify = [], []
  for run in range(runs + 2):
    start = (run * rate) % (len(samples) - 5 * rate)
    window = windows.Window(samples[start:start + 5 * rate].reshape(-1, 1), rate, 0,
                            None, None, 0.0)
    t0 = time.perf_counter()
    wave = windows.window_to_16k(window)
    t1 = time.perf_counter()
    classifier.clip_scores(windows.int16_to_float(wave))
    t2 = time.perf_counter()
    if run >= 2:      # The first runs compile and allocate.
      resample.append(t1 - t0)
      classify.append(t2 - t1)
  return percentiles(resample), percentiles(classify)


class TimedLoop(loop_lib.Loop):
  """Loop that also records the process CPU time used while a window is processed
  (all threads: TensorFlow computes on its own), so the rest is "between windows"."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.cpu_in_windows = 0.0

  def process(self, window):
    cpu = time.process_time()
    try:
      return super().process(window)
    finally:
      self.cpu_in_windows += time.process_time() - cpu


def run_stack(classifier, samples, rate, pace, count, state_dir, transport="rest"):
  """Runs the serve stack on a paced source for `count` windows; returns measurements."""
  devicehive = DeviceHiveServer().start()
  store = config_lib.ConfigStore(str(state_dir / "devicehive.json"))
  store.save(config_lib.DeviceHiveConfig(
      server_url=devicehive.url(transport), refresh_token=devicehive.issue_refresh_token(),
      device_id="bench", device_name="bench"))
  courier = courier_lib.Courier(outbox_lib.Outbox(str(state_dir / f"outbox-{time.monotonic_ns()}.sqlite3")),
                                store.load())
  hub = hub_lib.EventHub()
  ended = {}

  class EndTimes(sinks_lib.Sink):
    name = "end-times"

    def emit(self, event):
      ended[windows_start(event)] = event.ended_at

  sinks = sinks_lib.SinkSet([EndTimes(), sinks_lib.WebSink(hub), sinks_lib.DeviceHiveSink(courier)])
  capture = capture_lib.Capture(PacedSource(samples, rate, pace), 5.0, 7.0)
  loop = TimedLoop(capture, classifier, sinks, top_k=3)
  server = serve_cli.start_web(web.create_app(hub, store, courier), "127.0.0.1", 0)
  page = threading.Thread(target=_read_stream, args=(server.port,), daemon=True)
  page.start()
  loop.warm_up(rate)
  capture.start()
  wall, cpu = time.monotonic(), time.process_time()
  runner = threading.Thread(target=loop.run, daemon=True)
  runner.start()
  while loop.processed < count:
    time.sleep(0.05)
  loop.stop()
  capture.stop()
  runner.join(10)
  wall, cpu = time.monotonic() - wall, time.process_time() - cpu
  deadline = time.monotonic() + 30
  while len(devicehive.received("bench")) < loop.processed and time.monotonic() < deadline:
    time.sleep(0.05)
  latencies = [devicehive.arrivals[n["id"]] - ended[n["parameters"]["start_utc"]]
               for n in devicehive.received("bench") if n["parameters"]["start_utc"] in ended]
  sinks.close()
  server.shutdown()
  devicehive.stop()
  return {"latencies": latencies, "wall": wall, "cpu": cpu, "cpu_windows": loop.cpu_in_windows,
          "windows": loop.processed, "overruns": capture.stats.overruns}


def windows_start(event):
  return event.notification_parameters()["start_utc"]


def _read_stream(port):
  """A page that listens to /api/stream (what an open browser tab costs)."""
  try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stream", timeout=600) as stream:
      for _ in stream:
        pass
  except OSError:
    pass


def serve_process_idle(model_dir, samples, scratch, seconds=10.0):
  """CPU of a real `soundscope serve` process once its bounded capture is over.

  Its capture reads ALSA's file plugin (tests/support_runtime.py) for 5 s, then
  the process only serves: web server, one page on /api/stream, the courier.
  Returns percent of one core over `seconds`.
  """
  import psutil
  import re
  import subprocess
  import support_runtime
  home = support_runtime.file_microphone(scratch / "home", samples[:5 * 44100])
  process = subprocess.Popen(
      support_runtime.soundscope_command("serve", "--port", 0, "--duration", 5, "--state-dir",
                                         scratch / "serve-state", "--model-dir", model_dir),
      env=support_runtime.child_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
      text=True)
  try:
    port = None
    for line in process.stderr:
      match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
      if match:
        port = int(match.group(1))
        break
    page = threading.Thread(target=_read_stream, args=(port,), daemon=True)
    page.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # Until the one window was classified.
      with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status") as answer:
        import json
        if json.load(answer)["runtime"]["windows"] >= 1:
          break
      time.sleep(0.2)
    time.sleep(2.0)
    watched = psutil.Process(process.pid)
    before = watched.cpu_times()
    time.sleep(seconds)
    after = watched.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100.0 * used / seconds
  finally:
    process.terminate()
    process.wait(30)


def main():
  import logging
  logging.getLogger("werkzeug").setLevel(logging.ERROR)   # No access log lines.
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model", action="append",
                      help="model(s) in --model-dir to measure (default: yamnet)")
  parser.add_argument("--model-dir", help="model store (default: YAMNet from the assets)")
  parser.add_argument("--vggish-head", action="store_true",
                      help="also measure VGGish + an untrained FrameLevelLogisticModel head "
                           "(deterministic checkpoint, $SOUNDSCOPE_TEST_VGGISH_CKPT or written once)")
  parser.add_argument("--windows", type=int, default=16, help="windows for the latency run")
  parser.add_argument("--pace", type=float, default=4.0,
                      help="source speed for the latency run, x real time")
  parser.add_argument("--idle-windows", type=int, default=12,
                      help="windows at real-time pace for the idle CPU run")
  parser.add_argument("--transport", choices=("rest", "websocket"), default="rest",
                      help="DeviceHive API the courier uses")
  args = parser.parse_args()
  scratch = pathlib.Path(tempfile.mkdtemp(prefix="soundscope-bench-runtime-"))
  model_dir = args.model_dir
  if model_dir is None:
    model_dir = scratch / "models"
    store_lib.ModelStore(model_dir).import_path(common.require_asset("yamnet"))
  samples, rate = load_clips()
  print(f"clips: {len(CLIPS)} ESC-10 clips at {rate} Hz, windows of 5 s (min-time 5, max-time 7)")
  names = list(args.model or ["yamnet"]) + (["vggish+head"] if args.vggish_head else [])
  for name in names:
    if name == "vggish+head":
      classifier = vggish_head_classifier(scratch)
    else:
      classifier = registry.load_classifier(name, model_dir)
    (rs_med, rs_p95), (cl_med, cl_p95) = window_cost(classifier, samples, rate)
    print(f"\n[{name}] one 5 s window: resample 44.1->16 kHz median {rs_med * 1000:.0f} ms "
          f"(p95 {rs_p95 * 1000:.0f}), classify median {cl_med * 1000:.0f} ms "
          f"(p95 {cl_p95 * 1000:.0f}); total median {(rs_med + cl_med) * 1000:.0f} ms "
          f"-> {5.0 / (rs_med + cl_med):.0f}x real time")
    # Replay no faster than the model keeps up with, with a 2x margin.
    pace = max(1.0, min(args.pace, 5.0 / (2 * (rs_med + cl_med))))
    result = run_stack(classifier, samples, rate, pace, args.windows, scratch, args.transport)
    median, p95 = percentiles(result["latencies"])
    print(f"[{name}] window end -> DeviceHive ({args.transport}) notification received: "
          f"median {median * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms over {len(result['latencies'])} windows "
          f"(source at {pace:.1f}x real time, {result['overruns']} overruns)")
    idle = run_stack(classifier, samples, rate, 1.0, args.idle_windows, scratch, args.transport)
    between = idle["cpu"] - idle["cpu_windows"]
    print(f"[{name}] serve stack at real time: {idle['cpu'] / idle['wall'] * 100:.1f}% of one core "
          f"overall, {between / idle['wall'] * 100:.2f}% between windows "
          f"(capture, web page stream, courier) over {idle['wall']:.1f} s, {idle['windows']} windows")
  idle = serve_process_idle(model_dir, samples, scratch)
  print(f"\n`soundscope serve` process, capture over, one page on /api/stream: "
        f"{idle:.2f}% of one core over 10 s")
  print(f"peak RSS of this benchmark {common.peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
  main()
