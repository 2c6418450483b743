"""Batch pipelines on Apache Beam: `soundscope embed`, `audioset` and `predict`.

Compose transforms/ (signal steps) and models/ (VGGish, classifiers) into Beam
graphs that run on one machine by default and on Dask (tested), Flink, Spark or
Dataflow with the same code; see docs/pipelines.md and docs/scale-out.md.
Never imports runtime/.
"""
