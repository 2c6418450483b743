"""soundscope's live half: an audio input's windows -> the batch Classifier -> events -> sinks.

  sources.py      --input: a PortAudio device (devices.py), a file, stdin (WAV or raw PCM)
  ffmpeg.py       a network stream through ffmpeg, reconnected with backoff
  pcm.py          raw PCM bytes -> 16-bit blocks (stdin and ffmpeg's pipe)
  capture.py      the capture thread; windows of --min-time..--max-time seconds, on the wall clock
  windows.py      captured blocks -> windows of min..max seconds
  listening.py    windows -> one continuous 16 kHz stream (transforms.audio.StreamResampler)
                  -> its model windows, each scored once
  loop.py         each window: its piece saved first with --save-path, its model windows
                  pooled into its prediction, then its events
  live_events.py  the stream's model windows -> transforms/events.py -> event start/end notices
  rules.py        per-label rules (threshold, cooldown, sinks) and the volume gate
  prediction.py   PredictionEvent (a window) and EventNotice (an event), what sinks receive
  sinks.py        Sink interface: console, web page, DeviceHive, JSON lines
  mqtt.py         MQTT: a topic per label, retained state, last will, Home Assistant discovery
  outbox.py       bounded on-disk queue of undelivered messages (sqlite3; DeviceHive, MQTT)
  devicehive.py   DeviceHive clients, REST and WebSocket (JWT login/refresh, device, notifications)
  courier.py      delivers the outbox in order, with backoff and token refresh
  config.py       DeviceHive settings, validated, stored 0600
  credentials.py  user:pass@ out of URLs, secrets from a file or the environment, redaction
  history.py, retention.py   the SQLite history and the saved windows' retention
  web/            Flask page (timeline, events, playback, status), guards and the JSON API
  session.py      what `soundscope capture` and `soundscope serve` share (soundscope/cli/)

It reuses transforms/ and models/ and never imports pipelines/ (see docs/runtime.md and
docs/monitoring.md).
"""
