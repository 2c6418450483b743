"""How a process that decodes and scores file after file holds its freed memory
(soundscope/util/heap.py), in bytes.

glibc's malloc gives the top of its heap back to the kernel once more than its trim
threshold lies free there (by default twice a threshold that follows the largest block
freed so far), and the next file's decoding grows the heap again, faulting in every
page anew.  Scoring ESC-10's 5 s clips with YAMNet went through that for ~6 MB a
file: 1,561 page faults a file, and `predict --model yamnet` on 400 clips spent
1.7-2.0 s of its 10.0-10.4 s in the kernel (8.5-8.9 s with these values).
"""

# Blocks up to this size come from the heap and are reused once freed; larger ones are
# mapped and unmapped on their own.  32 MiB is the ceiling glibc's own adaptive
# threshold rises to on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX).
HEAP_MMAP_THRESHOLD_BYTES = 32 * 2**20    # bytes

# Free memory at the top of a heap kept in the process rather than returned: above the
# few MB one file's decoding and scoring take and free again, small beside a worker's
# model (YAMNet ~15 MB, VGGish ~290 MB).
HEAP_TRIM_THRESHOLD_BYTES = 64 * 2**20    # bytes
