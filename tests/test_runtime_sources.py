"""--input sources: a network stream through a real ffmpeg (served by ffmpeg, by an
HTTP server that stalls, and by a real RTSP server asking for credentials, as a camera
does), WAV and raw PCM on stdin, a file, a source faster than real time, and the
one-line errors of a bad --input."""

import datetime
import http.server
import io
import json
import logging
import os
import re
import subprocess
import threading
import time

import numpy as np
import pytest
import soundfile

import support_mqtt as sm
import support_rtsp
import support_runtime as sr
from soundscope.cli import main as cli_main
from soundscope.configs import monitoring as M
from soundscope.runtime import capture as capture_lib
from soundscope.runtime import ffmpeg
from soundscope.runtime import sources


def ffmpeg_or_skip():
  if not ffmpeg.os.path.exists(M.FFMPEG):
    pytest.skip(f"{M.FFMPEG} is absent (apt install ffmpeg)")


@pytest.fixture(scope="module")
def dog16k():
  """The first 4 s of the ESC-10 dog clip at 16 kHz, int16 [n]."""
  samples, rate = sr.read_clip(sr.DOG_CLIP)
  from soundscope.transforms import audio
  wave = audio.resample(samples[:4 * rate] / 32768.0, rate, 16000)
  return np.clip(np.rint(wave * 32768), -32768, 32767).astype(np.int16)


def wav_bytes(samples, rate=16000, subtype="PCM_16"):
  buffer = io.BytesIO()
  soundfile.write(buffer, samples, rate, subtype=subtype, format="WAV")
  return buffer.getvalue()


def read_all(source, frames, timeout=15):
  """int16 [frames, channels] from an opened source (fails after timeout)."""
  got, deadline = [], time.monotonic() + timeout
  while sum(len(b) for b in got) < frames and time.monotonic() < deadline:
    try:
      item = source.read(timeout=0.2)
    except Exception:   # queue.Empty
      continue
    if item is None:
      break
    got.append(item[0])
  return np.concatenate(got) if got else np.zeros((0, 1), np.int16)


def test_a_stream_served_by_ffmpeg_arrives_sample_for_sample(tmp_path, dog16k):
  ffmpeg_or_skip()
  clip = tmp_path / "dog.wav"
  soundfile.write(str(clip), dog16k[:24000], 16000, subtype="PCM_16")
  port = sm.free_port()
  # ffmpeg as an HTTP server of a WAV stream (as fast as it is read; -re would pace it).
  server = subprocess.Popen([M.FFMPEG, "-hide_banner", "-loglevel", "quiet", "-i",
                             str(clip), "-f", "wav", "-listen", "1", f"http://127.0.0.1:{port}/"])
  try:
    source = sr.wait_for(lambda: _opened(f"http://127.0.0.1:{port}/"), timeout=10,
                         what="ffmpeg's HTTP server")
    got = read_all(source, 24000)
    source.close()
  finally:
    server.kill()
    server.wait()
  assert source.rate == 16000 and source.live and source.wall_clock
  np.testing.assert_array_equal(got[:, 0], dog16k[:24000])   # 16 kHz mono in: no resampling.


def test_an_rtsp_camera_stream_with_credentials_arrives_sample_for_sample(tmp_path, dog16k):
  """GStreamer's RTSP server (RTP, payload L16) asking for Basic credentials, as the
  README's `capture --input rtsp://camera.lan/stream` would meet one."""
  ffmpeg_or_skip()
  clip = tmp_path / "dog.wav"
  soundfile.write(str(clip), dog16k[:24000], 16000, subtype="PCM_16")
  with support_rtsp.rtsp_camera(clip, "cam", "s3cret") as url:
    source = sr.wait_for(lambda: _opened(url), timeout=10, what="the RTSP stream")
    got = read_all(source, 24000)
    shown = source.name
    source.close()
  assert source.rate == 16000 and source.live and source.wall_clock
  np.testing.assert_array_equal(got[:24000, 0], dog16k[:24000])   # L16 is lossless.
  assert "s3cret" not in shown and shown.startswith("rtsp://") and "127.0.0.1" in shown


@pytest.fixture(scope="module")
def dog_scape(tmp_path_factory, dog16k):
  """1 s of silence, the dog clip's first 4 s and 5 s of silence (more than the longest
  merge gap of esc10's rules, so that a live stream closes its last event), 16 kHz."""
  path = tmp_path_factory.mktemp("rtsp") / "dog-scape.wav"
  silence = np.zeros(16000, np.int16)
  soundfile.write(str(path), np.concatenate([silence, dog16k, np.tile(silence, 5)]), 16000,
                  subtype="PCM_16")
  return path


def test_capture_of_an_rtsp_camera_gives_the_files_events_and_hides_the_password(
    tmp_path, dog_scape, capsys):
  """The README's live command on an RTSP stream: the events equal `classify --events` of
  the file served (the stream's times count from its first sample); a wrong password is
  one line naming the stream, exit 1; the password is in no output."""
  ffmpeg_or_skip()
  models = sr.import_yamnet(tmp_path / "models")
  code = cli_main.main(["classify", "--labels", "esc10", "--events", "--json", "--model-dir",
                        str(models), str(dog_scape)])
  assert code == 0
  import json
  batch = json.loads(capsys.readouterr().out)["events"]
  assert [event["label"] for event in batch] == ["dog"], batch
  jsonl = tmp_path / "events.jsonl"
  with support_rtsp.rtsp_camera(dog_scape, "cam", "s3cret") as url:
    code = cli_main.main(["capture", "--model-dir", str(models),
                          "--input", url.replace("s3cret", "wrong")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert "cannot read the stream" in err[0] and "401" in err[0] and "wrong" not in err[0]
    code = cli_main.main(["capture", "--model-dir", str(models), "--input", url, "--labels",
                          "esc10", "--events", "--jsonl", str(jsonl), "--duration", "10"])
    printed = capsys.readouterr()
  assert code == 0, printed.err
  notices = [json.loads(line) for line in jsonl.read_text().splitlines()]
  ends = [notice for notice in notices if notice["kind"] == "end"]
  assert len(ends) == len(batch), (ends, batch)
  for live, file_event in zip(ends, batch):
    for key, value in file_event.items():
      assert live[key] == (pytest.approx(value, abs=1e-9) if "seconds" in key else value), key
  assert all(notice["source"] == url.replace("cam:s3cret", "[secret]") for notice in notices)
  assert "s3cret" not in printed.out + printed.err + jsonl.read_text()


def _opened(url):
  try:
    return ffmpeg.StreamSource(url, open_seconds=5).open()
  except sources.SourceError:
    return None


class StallingServer(http.server.ThreadingHTTPServer):
  """Serves a WAV stream: the first request sends `first` then stalls (keeps the
  connection open, silent); later requests send `second` and end."""

  def __init__(self, first, second):
    self.parts, self.requests, self.release = [first, second], 0, threading.Event()
    super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
  def do_GET(self):
    server = self.server
    server.requests += 1
    body = server.parts[0] if server.requests == 1 else server.parts[1]
    self.send_response(200)
    self.send_header("Content-Type", "audio/wav")
    self.end_headers()
    self.wfile.write(body)
    self.wfile.flush()
    if server.requests == 1:
      server.release.wait(20)    # Stalled: the connection stays open, no more audio.

  def log_message(self, *args):
    pass


@pytest.mark.slow
def test_a_stalled_stream_reconnects_says_so_once_and_goes_on(dog16k, caplog):
  ffmpeg_or_skip()
  # The first part is longer than what ffmpeg holds before its first output (its
  # probe, configs.monitoring.FFMPEG_PROBE_BYTES, and its read buffers: < 96 kB here).
  first, second = dog16k[:48000], dog16k[48000:]
  server = StallingServer(wav_bytes(first), wav_bytes(second))
  threading.Thread(target=server.serve_forever, daemon=True).start()
  url = f"http://127.0.0.1:{server.server_address[1]}/live.wav"
  caplog.set_level(logging.WARNING, logger="soundscope.runtime.ffmpeg")
  source = ffmpeg.StreamSource(url, stall_seconds=0.5, backoff_initial=0.1, open_seconds=5)
  try:
    source.open()
    got = read_all(source, len(dog16k))
    reconnections = source.reconnections
  finally:
    source.close()
    server.release.set()
    server.shutdown()
    server.server_close()
  # The first part, then (after the stall) the whole second connection's audio.
  np.testing.assert_array_equal(got[:len(first), 0], first)
  np.testing.assert_array_equal(got[len(first):len(dog16k), 0], second)
  assert reconnections >= 1 and server.requests >= 2
  said = [r.getMessage() for r in caplog.records]
  assert sum("no audio for 0.5 s" in line for line in said) == 1, said
  assert sum("back after" in line for line in said) == 1, said
  assert all("live.wav" in line for line in said)


def test_wav_and_raw_pcm_on_stdin(dog16k):
  stereo = np.stack([dog16k, -dog16k], axis=1)
  for data, options, expected in (
      (wav_bytes(dog16k), {}, dog16k[:, None]),
      (wav_bytes(stereo), {}, stereo),
      (wav_bytes(dog16k / 32768.0, subtype="FLOAT"), {}, dog16k[:, None]),
      (stereo.astype("<i2").tobytes(), {"rate": 16000, "channels": 2}, stereo),
      ((dog16k.astype(np.int32) << 16).astype("<i4").tobytes(),
       {"rate": 8000, "sample_format": "s32le"}, dog16k[:, None])):
    source = sources.StdinSource(stream=io.BufferedReader(io.BytesIO(data)), **options).open()
    got = read_all(source, len(expected))
    assert source.read(0.5) is None and not source.live and source.wall_clock
    np.testing.assert_array_equal(got, expected)
    assert source.rate == options.get("rate", 16000)
  with pytest.raises(sources.SourceError, match="no WAV header.*--input-rate"):
    sources.StdinSource(stream=io.BytesIO(b"not a wav stream at all")).open()


def test_a_source_faster_than_real_time_keeps_window_times_on_the_wall_clock(dog16k, caplog):
  # 60 s of audio on a pipe that delivers it at once: the sample count would put the
  # last window ~60 s in the future.
  minute = np.tile(dog16k, 40)
  source = sources.StdinSource(stream=io.BufferedReader(io.BytesIO(wav_bytes(minute))))
  caplog.set_level(logging.WARNING, logger="soundscope.runtime.capture")
  capture = capture_lib.Capture(source, 5, 7).start()
  taken = []
  while (window := capture.next_window(timeout=10)) is not None:
    now = datetime.datetime.now(datetime.timezone.utc)
    assert (window.end_utc - now).total_seconds() <= M.MAX_CLOCK_DRIFT_SECONDS
    taken.append(window)
  assert sum(len(w.samples) for w in taken) == len(minute)     # Nothing dropped: it waits.
  for before, after in zip(taken, taken[1:]):
    assert after.start_utc >= before.end_utc and after.first_frame == before.first_frame + \
        len(before.samples)
  assert capture.stats.clock_corrections >= 1
  said = [r.getMessage() for r in caplog.records if "wall clock" in r.getMessage()]
  assert len(said) == 1 and "stdin: window times were" in said[0], said


def test_a_file_at_real_time_is_paced_and_otherwise_is_not(tmp_path, dog16k):
  clip = tmp_path / "dog.wav"
  soundfile.write(str(clip), dog16k[:8000], 16000, subtype="PCM_16")
  for realtime in (False, True):
    source = sources.open_source(str(clip), realtime=realtime).open()
    started = time.monotonic()
    got = read_all(source, 8000)
    elapsed = time.monotonic() - started
    np.testing.assert_array_equal(got[:, 0], dog16k[:8000])
    assert source.live == realtime
    # Paced: a block comes once its last frame would have been heard (the first at once).
    assert (elapsed >= 0.5 - 0.1 - 0.02) if realtime else (elapsed < 0.3), elapsed


def test_a_bad_input_is_one_line(tmp_path, capsys):
  models = sr.import_yamnet(tmp_path / "models")
  for argv, status, words in (
      (["--input", "gopher://example.org/x"], 2, "unknown scheme 'gopher'"),
      (["--input", str(tmp_path / "absent.wav")], 2, "absent.wav: no such file"),
      (["--input", "-", "--input-format", "u8"], 2, "invalid choice"),
      (["--mqtt", "mqtt://me:hunter2@127.0.0.1/x"], 2, "credentials do not belong"),
      (["--input", f"http://cam:topsecret@127.0.0.1:{sm.free_port()}/none"], 1,
       "cannot read the stream")):
    try:
      code = cli_main.main(["capture", "--model-dir", str(models), *argv])
    except SystemExit as exc:    # argparse's own usage errors.
      code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == status, err
    assert words in err[-1] and "Traceback" not in "".join(err)
    assert "hunter2" not in "".join(err) and "topsecret" not in "".join(err)   # No password.
    assert len([line for line in err if "error:" in line]) == 1, err


def test_stdin_faster_than_real_time_saves_every_window_with_ordered_times(tmp_path, dog16k):
  # 60 s of audio through a pipe at once, as `cat 60s.wav | soundscope capture --input -`:
  # the wall clock squeezes the windows; no saved file may be overwritten, window spans
  # must run forward without overlap, and an event must never end before it starts.
  models = sr.import_yamnet(tmp_path / "models")
  saved, jsonl = tmp_path / "sv2", tmp_path / "sv2.jsonl"
  run = subprocess.run(
      sr.soundscope_command("capture", "--model-dir", models, "--input", "-", "--save-path",
                            saved, "--jsonl", jsonl, "--notify-windows", "--min-time", 2,
                            "--max-time", 3),
      input=wav_bytes(np.tile(dog16k, 15)), capture_output=True, timeout=300,
      env=dict(sr.child_env(tmp_path), SOUNDSCOPE_STATE_DIR=str(tmp_path / "state")))
  err = run.stderr.decode()
  assert run.returncode == 0, err
  classified = int(re.search(r"(\d+) windows classified", err).group(1))
  rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
  windows = [row for row in rows if "sequence" in row]
  notices = [row for row in rows if "kind" in row]
  assert classified == len(windows) >= 20
  files = sorted(saved.glob("record_*.wav"))
  assert len(files) == classified, [f.name for f in files]
  assert sorted(os.path.basename(w["saved_audio"]) for w in windows) == [f.name for f in files]
  now = datetime.datetime.now(datetime.timezone.utc)
  spans = [(utc(w["start_utc"]), utc(w["end_utc"])) for w in windows]
  for start, end in spans:
    assert start <= end <= now + datetime.timedelta(seconds=M.MAX_CLOCK_DRIFT_SECONDS)
  for (_, before), (after, _) in zip(spans, spans[1:]):
    assert before <= after      # In order, never overlapping.
  assert any(n["kind"] == "end" for n in notices), notices
  for notice in notices:
    if notice["end_utc"] is not None:
      assert utc(notice["start_utc"]) <= utc(notice["end_utc"]), notice
      assert notice["start_seconds"] <= notice["end_seconds"]


def utc(text):
  """'2026-11-26T17:06:47.643Z' -> aware datetime."""
  return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
      tzinfo=datetime.timezone.utc)
