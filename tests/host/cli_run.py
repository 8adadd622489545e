"""`codenet detect` in-process for the host tests, and the one-line-error check."""

from codenet.host.cli import main


def detect(capsys, tmp_path, bundle, *args):
    """Runs detect on `args` into tmp_path/out: (exit code, stderr, stdout)."""
    code = main(["detect", *map(str, args), "--bundle", str(bundle), "--out", str(tmp_path / "out"), "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.err.strip(), captured.out


def one_line(code, err, *needles):
    """Exit 2 with one line naming every needle, and no traceback."""
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
