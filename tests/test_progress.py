import io

from render.progress import ProgressBar, format_seconds
from render.runner import Progress


def test_progress_shows_frame_rate_and_time_left():
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(Progress(index=10, done=1, total=5, seconds=9.0))   # first frame includes start-up
    bar(Progress(index=11, done=2, total=5, seconds=2.0))
    bar(Progress(index=12, done=3, total=5, seconds=4.0))
    last = stream.getvalue().splitlines()[-1]
    assert "frame    12" in last and "3/5" in last
    assert "3.00 s/frame" in last and "0:06 left" in last  # steady 3 s/frame, 2 frames to go


def test_format_seconds():
    assert format_seconds(65) == "1:05" and format_seconds(3725) == "1:02:05"


def test_a_terminal_line_is_cleared_before_it_is_redrawn():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgressBar(stream)
    bar(Progress(index=0, done=1, total=600, seconds=700.0))  # "... 116:23:20 left"
    bar(Progress(index=1, done=2, total=600, seconds=1.0))    # a shorter line
    redraws = stream.getvalue().split("\r")[1:]
    assert all(line.rstrip("\n").endswith("\x1b[K") for line in redraws)
