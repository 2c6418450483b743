"""Continuous monitoring's cost: CPU of a core and window-end-to-MQTT latency (issue 21).

Runs `soundscope capture --input FILE --realtime --labels esc10 --mqtt ... --notify-windows`
on a soundscape of real ESC-10 clips (bench/soundscapes.py when present, else clips with
silences between them), paced at real time as a microphone would be, with YAMNet,
against a real Mosquitto on loopback, and prints:

  cpu_percent_of_a_core   the capture process's CPU time over wall time, from its
                          first window to its exit (start-up and model loading excluded)
  latency_ms median/p95/max   a window's end (its end_utc: when its last audio
                          arrived) to the window's message reaching an MQTT subscriber

Targets (the issue, on this 2-core machine): CPU < 5 % of a core on average; latency
median < 100 ms and 95th percentile < 300 ms.  Say the load average with the figures.

  python3 bench/bench_live.py [--minutes 2]
"""

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import soundfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench import common  # noqa: E402

MOSQUITTO = "/usr/sbin/mosquitto"


def soundscape(minutes, path):
  """Writes a 16 kHz 16-bit soundscape of `minutes` minutes to path."""
  try:
    from bench import soundscapes
    wave, rate, _ = soundscapes.make_soundscape(seed=1, minutes=minutes, fold=1)
  except ImportError:
    from soundscope.transforms import audio
    clips = sorted((common.ASSETS / "audio" / "esc10").glob("1-*.flac"))
    parts, total, rate = [], 0, 16000
    while total < minutes * 60 * rate:
      for clip in clips:
        samples, clip_rate = soundfile.read(str(clip), dtype="float64")
        parts += [audio.resample(samples, clip_rate, rate), np.zeros(3 * rate)]
        total += len(parts[-2]) + len(parts[-1])
    wave = np.concatenate(parts)[:minutes * 60 * rate]
  pcm = np.clip(np.rint(np.asarray(wave, np.float64) * 32768), -32768, 32767).astype(np.int16)
  soundfile.write(path, pcm, rate, subtype="PCM_16")


def free_port():
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def cpu_seconds(pid):
  """utime + stime of a running process, seconds (/proc/PID/stat)."""
  with open(f"/proc/{pid}/stat") as stat:
    fields = stat.read().rsplit(")", 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--minutes", type=int, default=2, help="soundscape length (default 2)")
  args = parser.parse_args()
  import paho.mqtt.client as paho
  from soundscope.models.store import files as store
  work = tempfile.mkdtemp(prefix="bench-live-")
  models = os.path.join(work, "models")
  store.ModelStore(models).import_path(common.require_asset("yamnet"))
  scape = os.path.join(work, "scape.wav")
  soundscape(args.minutes, scape)
  port = free_port()
  config = os.path.join(work, "mosquitto.conf")
  with open(config, "w") as stream:
    stream.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
  broker = subprocess.Popen([MOSQUITTO, "-c", config], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
  received, first = [], threading.Event()

  def on_message(client, userdata, message):
    now = datetime.datetime.now(datetime.timezone.utc)
    if message.topic.endswith("/window"):
      received.append((now, json.loads(message.payload)))
      first.set()

  subscriber = paho.Client(paho.CallbackAPIVersion.VERSION2)
  subscriber.on_message = on_message
  subscriber.on_connect = lambda c, *a: c.subscribe("bench/#", qos=1)
  time.sleep(0.5)
  subscriber.connect("127.0.0.1", port)
  subscriber.loop_start()
  capture = subprocess.Popen(
      [sys.executable, "-m", "soundscope", "capture", "--input", scape, "--realtime",
       "--labels", "esc10", "--mqtt", f"mqtt://127.0.0.1:{port}/bench", "--mqtt-node", "live",
       "--notify-windows", "--model-dir", models],
      env=dict(os.environ, SOUNDSCOPE_STATE_DIR=os.path.join(work, "state")),
      stdout=subprocess.DEVNULL)
  first.wait(120)
  started, cpu_start = time.monotonic(), cpu_seconds(capture.pid)
  _, status, usage = os.wait4(capture.pid, 0)
  wall = time.monotonic() - started
  cpu = usage.ru_utime + usage.ru_stime - cpu_start
  time.sleep(0.5)
  subscriber.loop_stop()
  broker.terminate()
  broker.wait()
  latencies = [(at - datetime.datetime.strptime(w["end_utc"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
      tzinfo=datetime.timezone.utc)).total_seconds() * 1000 for at, w in received]
  p95 = float(np.percentile(latencies, 95)) if latencies else float("nan")
  print(f"soundscape: {args.minutes} min at real time, YAMNet, --labels esc10, "
        f"exit status {os.waitstatus_to_exitcode(status)}")
  print(f"cpu_percent_of_a_core: {100 * cpu / wall:.2f}  ({cpu:.2f} s CPU over {wall:.1f} s)")
  print(f"latency_ms over {len(latencies)} windows: median {statistics.median(latencies):.1f}, "
        f"p95 {p95:.1f}, max {max(latencies):.1f}")
  print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
  main()
