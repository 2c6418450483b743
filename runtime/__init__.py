"""soundscope's live half: microphone windows -> the batch Classifier -> sinks.

  capture.py      PortAudio capture thread; windows of --min-time..--max-time seconds
  windows.py      captured blocks -> windows -> 16 kHz mono (the shared transforms)
  loop.py         classify each window, save it first with --save-path
  prediction.py   PredictionEvent, what every sink receives
  sinks.py        Sink interface: console, web page, DeviceHive, JSON lines
  outbox.py       bounded on-disk queue of undelivered notifications (sqlite3)
  devicehive.py   DeviceHive clients, REST and WebSocket (JWT login/refresh, device, notifications)
  courier.py      delivers the outbox in order, with backoff and token refresh
  config.py       DeviceHive settings, validated, stored 0600
  web/            Flask page, /events and the JSON API
  capture_cli.py, serve_cli.py, session.py: `soundscope capture` and `soundscope serve`

It reuses transforms/ and models/ and never imports pipelines/ (see docs/runtime.md).
"""
