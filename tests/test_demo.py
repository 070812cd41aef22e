"""`triage demo` runs the whole bot on the shipped samples and shows what it did."""

from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(ROOT / "app.yaml"), "demo", "--samples", str(ROOT / "samples"),
              "--out", str(tmp_path)])  # fmt: skip
    output = capsys.readouterr().out
    assert exit_info.value.code == 0, output
    return output


def test_demo_turns_sample_messages_into_routed_tickets_and_a_digest(
    engine, sessions, database_url: str, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    output = run_demo(capsys, tmp_path)
    assert "mail: 14 messages (14 new" in output
    assert "TRI-1 " in output and "india-vouchers" in output and "Ananya Iyer" in output
    assert "Email sent: replies to candidates" in output and "Re: " in output
    assert "Digest for Dev Patel" in output
    assert (tmp_path / "digest-dev.png").read_bytes().startswith(b"\x89PNG")
    # Codes are masked everywhere the demo prints.
    assert "7Q2K" in output and "IN26-9F3D-7Q2K" not in output

    again = run_demo(capsys, tmp_path)
    assert "mail: 14 messages (0 new, 14 already taken in)" in again
    assert "nothing new to send" in again
