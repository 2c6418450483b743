"""Configuration: every tunable parameter of soundscope, with its unit, in one place.

`configs.params` holds the signal-processing and model constants of the VGGish
front end and the AudioSet release format; other modules of this package
describe models (`configs.model_specs`) and runtime settings.
"""
