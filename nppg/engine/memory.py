"""glibc's malloc, asked to reuse freed memory instead of faulting fresh pages in again.

By default glibc serves an array of 128 KB or more straight from the operating system (or from the
top of its heap, which it gives back as soon as a few hundred KB there are free). Each new array is
then made of fresh pages, and the kernel faults them in and zeroes them one 4 KB page at a time:
on this machine a value step on 2,000 rows took 940 page faults and 3.4 ms, against none and 2.3 ms
once the memory is reused (docs/performance.md). The value fit's blocks are arrays of up to 1 MB,
so this is most of what decides its speed on one thread.

``keep_freed_memory`` sets three of malloc's options: arrays up to 4 MB come from the heap (the
value fit's blocks, and the policy update's whole-batch arrays: 2 MB at 4,000 rows of 64), the heap
is not shrunk until 256 MB at its top are free, and all threads share one heap (with a heap per
thread, each of the value fit's two threads kept its own freed memory). Anything larger keeps its
own mapping, given back when freed. That bound matters: MuJoCo allocates 6 MB work areas for each
model it compiles and frees them again, mostly never written. Freed inside the heap (with a bound of
32 MB), those areas became free space that NumPy's arrays moved into page by page, and a HalfCheetah
run's memory grew by up to 20 MB over its first epochs; with 4 MB it grows about 1 MB in 200 epochs
(docs/performance.md, Memory). The price is that the process keeps the memory it has used at its
peak until it exits. The setting lasts for the process; it is made on Linux with glibc only,
elsewhere nothing changes.
"""
import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt's option numbers (glibc's malloc.h)


def keep_freed_memory(largest=4 * 2**20, keep=256 * 2**20):
    """Serve arrays up to ``largest`` bytes from one heap for all threads, shrunk only past ``keep``
    free bytes. Returns True if glibc took the settings, False where there is no glibc (nothing changes)."""
    try:
        libc = ctypes.CDLL(None)  # the C library this Python runs on
        libc.gnu_get_libc_version  # glibc's own; musl and macOS libc have a different malloc
    except (OSError, AttributeError, TypeError):
        return False
    settings = ((M_MMAP_THRESHOLD, largest), (M_TRIM_THRESHOLD, keep), (M_ARENA_MAX, 1))
    return all([bool(libc.mallopt(option, value)) for option, value in settings])
