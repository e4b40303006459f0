"""The bench's cases at toy sizes against real servers it starts: every row carries its
figures, nothing is lost, and everything started is stopped."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from app.loadtest.bench import cases
from app.loadtest.bench.run import Sizes, table
from app.loadtest.bench.servers import Backend, Fleet, wait_ready


def test_fan_out_and_its_baseline_measure_every_receipt(tmp_path: Path) -> None:
    async def scenario() -> tuple[cases.FanOut, cases.Row, Fleet]:
        fleet = Fleet(tmp_path)
        try:
            [server] = await fleet.start(Backend("SQLite"))
            measured = await cases.fan_out([server], 6, 3, "SQLite")
            assert measured.payload is not None
            baseline = fleet.start_baseline()
            await wait_ready(baseline)
            bare = await cases.fan_out_baseline(baseline, 6, 3, measured.payload)
            return measured, bare, fleet
        finally:
            fleet.close()

    measured, bare, fleet = asyncio.run(scenario())
    assert fleet.servers == []  # everything it started is stopped
    for row in (measured.row, bare):
        assert row.figures["receipts"] == 6 * 3
        assert row.lost == row.duplicated == 0
        assert row.p50_ms is not None and row.p99_ms is not None
        assert 0 < row.p50_ms <= row.p99_ms
        # The server's own CPU over the case, per message delivered (a process that did
        # the work used some; /proc counts in clock ticks, so a tiny case may read 0).
        assert row.figures["cpu_us_per_message"] is not None
        assert row.figures["cpu_us_per_message"] >= 0
    assert measured.row.figures["foreign"] == 0
    assert measured.memory_per_participant_kib is not None
    # the baseline broadcast what a participant really received
    payload = measured.payload
    assert payload is not None and payload["type"] == "inject_delivered"
    assert payload["data"]["body_html"].startswith("<p><strong>Update")


def test_commands_and_many_drills_count_acknowledgements(tmp_path: Path) -> None:
    async def scenario() -> tuple[cases.Row, cases.Row]:
        fleet = Fleet(tmp_path)
        try:
            [server] = await fleet.start(Backend("SQLite"))
            commands = await cases.commands(server, 4, 0.5, 2.0, "SQLite")
            many = await cases.many_drills(server, 3, 3, 2, "SQLite")
            return commands, many
        finally:
            fleet.close()

    commands, many = asyncio.run(scenario())
    assert commands.figures["acknowledged"] >= 8  # 4 participants, ~1 per 0.5 s, 2 s
    assert commands.figures["commands_per_s"] > 0
    assert commands.lost == commands.duplicated == 0
    assert many.figures["receipts"] == 3 * 3 * 2
    assert many.lost == many.duplicated == 0
    text = table([commands, many])
    assert text.splitlines()[0].split()[:3] == ["case", "size", "backend"]
    assert "commands per s" in text and "many drills" in text


def test_the_outside_world_case_delivers_every_post_and_every_answer(tmp_path: Path) -> None:
    async def scenario() -> cases.Row:
        fleet = Fleet(tmp_path)
        try:
            [server] = await fleet.start(Backend("SQLite"))
            return await cases.outside_world(server, 8, 3, 8.0, "SQLite")
        finally:
            fleet.close()

    row = asyncio.run(scenario())
    assert row.figures["post_receipts"] == 8 * 3  # every post reached every participant
    assert row.figures["feed_posts"] >= 3  # the three, and any statement to the newsroom
    assert row.figures["white_cell_answers"] >= 7  # one round at least, to every role
    assert row.figures["authored_replies"] >= 1  # the regulator's receipt, 5 s after
    assert row.lost == row.duplicated == 0


def test_cpu_per_message_reads_the_process_counters() -> None:
    from app.loadtest.bench.servers import cpu_seconds

    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))  # burn some CPU in this very process
    assert cpu_seconds(os.getpid()) > before
    assert cases.cpu_per_message(0.02, 1000) == 20.0  # 20 ms over 1,000 messages
    assert cases.cpu_per_message(0.5, 0) is None


def test_quick_sizes_are_smaller_than_the_full_run() -> None:
    quick, full = Sizes.quick(), Sizes.full()
    assert max(quick.fan_out) < max(full.fan_out) == 2000
    assert full.target_size == 1000 and full.restart_events == 10_000
