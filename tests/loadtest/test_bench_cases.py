"""The bench's cases at toy sizes against real servers it starts: every row carries its
figures, nothing is lost, and everything started is stopped."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from app.loadtest.bench import cases
from app.loadtest.bench.reports import pdf_case, programme_case
from app.loadtest.bench.run import GOALS, Result, Sizes, as_json, memory_row, report, table
from app.loadtest.bench.servers import Backend, Fleet, wait_ready


def test_fan_out_and_its_baseline_measure_every_receipt(tmp_path: Path) -> None:
    async def scenario() -> tuple[cases.FanOut, cases.Row, Fleet]:
        fleet = Fleet(tmp_path)
        try:
            [server] = await fleet.start(Backend("SQLite"))
            baseline = fleet.start_baseline()
            await wait_ready(baseline)
            measured = await cases.fan_out([server], 6, 3, "SQLite", rounds=2, beside=baseline)
            assert measured.payload is not None and measured.baseline is not None
            return measured, measured.baseline, fleet
        finally:
            fleet.close()

    measured, bare, fleet = asyncio.run(scenario())
    assert fleet.servers == []  # everything it started is stopped
    for row in (measured.row, bare):
        assert row.figures["receipts"] == 2 * 6 * 3  # two rounds of three injects to six
        assert row.figures["rounds"] == 2
        assert "median of 2 rounds" in row.size
        low, high = (float(x) for x in row.figures["p99_ms_rounds"].split("-"))
        assert row.p99_ms is not None and low <= row.p99_ms <= high
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


def test_the_median_round_is_the_middle_one_by_p99() -> None:
    def round_with(p99_seconds: float) -> cases.Round:
        return cases.Round(cases.Delivery(latencies=[p99_seconds]), 0.01)

    rounds = [round_with(0.09), round_with(0.03), round_with(0.05)]
    assert cases.median_round(rounds).p99_ms == 50.0
    figures = cases.round_figures(rounds)
    assert figures["p99_ms_rounds"] == "30-90"
    assert figures["rounds"] == 3


def test_every_goal_is_printed_with_its_verdict() -> None:
    figures = {"fan_out_cpu": 1.6, "memory": 30.0}
    judged = [g.judged(figures.get(g.key)) for g in GOALS]
    result = Result([], judged)
    text = report(result, quick=False)
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    cpu = lines["server CPU per delivered message, Tabletop vs bare broadcast, 1,000 participants"]
    assert "1.6 x" in cpu and "<= 1.3 x" in cpu and "NOT MET" in cpu
    assert "met" in lines["memory per idle participant"]
    assert "NOT MET" not in lines["memory per idle participant"]
    assert "not measured" in lines["PDF of a 20-page report"]
    payload = as_json(result, quick=False)
    assert [g["goal"] for g in payload["goals"]] == [g.key for g in GOALS]
    assert payload["goals"][0]["met"] is False and payload["goals"][3]["met"] is True
    assert payload["goals"][-1]["met"] is None
    assert "none is judged" in report(result, quick=True)


def test_the_report_cases_time_a_pdf_and_the_programme(tmp_path: Path) -> None:
    pdf = asyncio.run(pdf_case(f"sqlite+aiosqlite:///{tmp_path / 'pdf.db'}", 40, repeats=1))
    assert pdf.pages >= 5 and pdf.events == 40 and pdf.median_s > 0
    programme = asyncio.run(
        programme_case(f"sqlite+aiosqlite:///{tmp_path / 'programme.db'}", drills=3, events=60)
    )
    assert programme.drills == 3
    assert programme.unscored_view_ms > programme.next_view_ms > 0
    assert programme.first_view_ms > 0


def test_two_workers_report_each_worker_s_own_cpu_per_message() -> None:
    # Four receipts over two workers: two each; 1 ms and 2 ms of CPU.
    two = cases.Round(cases.Delivery(latencies=[0.01] * 4), 0.003, (0.001, 0.002))
    figures = cases.round_figures([two])
    assert figures["cpu_us_per_message"] == 750.0  # 3 ms over 4 messages
    assert figures["cpu_us_per_message_per_worker"] == "500.0 / 1000.0"
    one = cases.Round(cases.Delivery(latencies=[0.01] * 4), 0.003, (0.003,))
    assert "cpu_us_per_message_per_worker" not in cases.round_figures([one])


def test_memory_is_judged_per_participant_and_given_per_extra_participant() -> None:
    # 10 MB that do not grow with the participants, and 30 KiB for each one.
    fixed, each = 10_240.0, 30.0
    memory = {n: (fixed + each * n) / n for n in (1000, 2000)}
    figures: dict[str, tuple[float | None, str]] = {}
    row = memory_row(memory, 1000, "SQLite", figures)
    assert row.figures["kib_per_participant"] == 40.2
    assert row.figures["kib_per_participant_from_1000_to_2000"] == 30.0
    assert figures["memory"][0] == 40.2  # the goal is held to the plain average
    assert "30.0 KiB each from 1,000 to 2,000" in figures["memory"][1]
