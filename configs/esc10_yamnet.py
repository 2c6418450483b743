"""The fixed mapping from YAMNet's classes to the ten ESC-10 categories.

Used by the accuracy check (tests/test_yamnet_esc10.py) and bench/bench_classify.py:
a clip's score for a category is the highest clip score among the YAMNet
classes mapped to it, and the predicted category is the one with the highest
score.  The classes are the AudioSet ontology's names for each sound (and its
direct synonyms), chosen before looking at any result; none is shared between
two categories.
"""

# ESC-10 category (esc10.csv `category`) -> YAMNet display names (yamnet_class_map.csv).
ESC10_TO_YAMNET = {
    "dog": ("Dog", "Bark", "Bow-wow", "Yip", "Howl", "Growling"),
    "rooster": ("Chicken, rooster", "Crowing, cock-a-doodle-doo"),
    "rain": ("Rain", "Raindrop", "Rain on surface"),
    "sea_waves": ("Waves, surf", "Ocean"),
    "crying_baby": ("Baby cry, infant cry", "Crying, sobbing"),
    "clock_tick": ("Clock", "Tick", "Tick-tock"),
    "sneezing": ("Sneeze",),
    "helicopter": ("Helicopter",),
    "chainsaw": ("Chainsaw",),
    "crackling_fire": ("Fire", "Crackle"),
}
