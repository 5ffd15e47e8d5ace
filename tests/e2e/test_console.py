"""Done means: an operator runs Architect from the console in a real browser, against the real stack.

Headless Chromium signs in with an API key, follows a gated goal to its approval, approves it with the button
and sees it complete, reads its DAG, causal timeline and replay from Kafka, sees the fleet, and re-drives a dead
letter (a SubmitGoal a consumer gave up on) so that its goal runs. A key without the admin scope is refused with
a clear message. Screenshots of each page are saved as test artifacts.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from services.orchestrator.htn.builtin_domain import APPROVAL_PARAM
from shared.bus.dead_letters import dead_letter
from shared.bus.record import Record
from shared.bus.topics import GOALS_COMMANDS
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import encode, new_event
from shared.infra.stack import ServiceSpec
from tests.e2e.console_browser import artifact_dir, chromium
from tests.e2e.harness import EndToEnd
from tests.e2e.knobs import APPROVERS

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
ADMIN_KEY = f"console-admin-{RUN}"
VIEWER_KEY = f"console-viewer-{RUN}"
# The approver's name is the key's name: the orchestrator only takes approvals from the configured approvers.
API_KEYS = f"{ADMIN_KEY}={APPROVERS[0]}:submit+approve+admin,{VIEWER_KEY}=viewer-{RUN}"
UI_TIMEOUT_MS = 45_000
DRIFT_BASELINE = 2
STABILITY = re.compile(r"^(0(\.\d+)?|1(\.0+)?)$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gateway(e2e_session: EndToEnd) -> Iterator[str]:
    """The gateway (with this module's keys) and the drift monitor as services of the e2e stack; the gateway's URL
    once it is ready. Both stop with the stack."""
    port = _free_port()
    env = {"ARCHITECT_GATEWAY_PORT": str(port), "ARCHITECT_GATEWAY_API_KEYS": API_KEYS}
    e2e_session.stack.start(ServiceSpec("gateway", env=env))
    # The agents' stability scores, with a baseline of two outputs so the test's few tasks produce scores.
    e2e_session.stack.start(ServiceSpec("drift_monitor", env={"ARCHITECT_DRIFT_BASELINE_SIZE": str(DRIFT_BASELINE)}))
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    e2e_session.wait_until("the gateway to be ready", ready, 60)
    yield url


def shot(page: Page, name: str) -> Path:
    path = artifact_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/console/")
    page.fill("#api-key", key)
    page.click("#login button[type=submit]")
    expect(page.locator("#nav")).to_be_visible()


def submit_gated_goal(url: str) -> str:
    body = {"goal_type": "implement_feature", "title": "Ship the export", "params": {APPROVAL_PARAM: True}}
    response = httpx.post(f"{url}/goals", json=body, headers={"X-API-Key": ADMIN_KEY}, timeout=15)
    assert response.status_code == 202, response.text
    return str(response.json()["goal_id"])


def dead_letter_a_submission(e2e: EndToEnd) -> str:
    """A well-formed SubmitGoal dead-lettered as a consumer does after a handler failure: re-driving it should
    let the orchestrator take it as if it had never failed."""
    goal_id = f"e2e-redriven-{RUN}"
    command = SubmitGoal(goal_id=goal_id, goal_type="fix_bug", title="dead-lettered once", params={})
    envelope = new_event(command, producer="e2e-tests", stream_id=goal_id, correlation_id=goal_id)
    headers = [(k, v.encode()) for k, v in envelope.header_metadata().items()]
    record = Record(GOALS_COMMANDS, 0, 0, goal_id.encode(), encode(envelope), headers)
    dead_letter(
        e2e.producer,
        record,
        reason="handler_error",
        error=f"ConnectionError while handling {goal_id}",
        group=f"e2e-console-{RUN}",
    )
    e2e.producer.flush()
    return goal_id


@pytest.mark.timeout(180, func_only=True)
def test_an_operator_runs_architect_from_the_console(e2e: EndToEnd, gateway: str) -> None:
    started = time.monotonic()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)

        # Unauthorised: the console asks for a key, and a wrong one is refused with the gateway's reason.
        page.goto(f"{gateway}/console/")
        expect(page.locator("#login")).to_be_visible()
        page.fill("#api-key", "not-a-key")
        page.click("#login button[type=submit]")
        expect(page.locator("#banner")).to_contain_text("unknown API key")
        expect(page.locator("#nav")).to_be_hidden()
        shot(page, "00-refused-key")

        # A gated goal: seen live in the list, then on its page waiting at the gate, approved with the button.
        sign_in(page, gateway, ADMIN_KEY)
        goal_id = submit_gated_goal(gateway)
        row = page.locator(f'tr[data-goal="{goal_id}"]')
        expect(row).to_be_visible()
        page.click(f'tr[data-goal="{goal_id}"] a')
        gate = page.locator(f'tr[data-gate="{goal_id}/deploy_staging"]')
        expect(gate).to_be_visible()
        expect(page.locator('svg.dag g.node[data-status="succeeded"]')).to_have_count(4)
        shot(page, "01-goal-waiting-for-approval")
        page.click("#nav a[data-view=approvals]")
        expect(page.locator(f'tr[data-gate="{goal_id}/deploy_staging"]')).to_be_visible()
        shot(page, "02-approvals")
        page.click(f'tr[data-gate="{goal_id}/deploy_staging"] button[data-action=approve]')
        expect(page.locator("#banner")).to_contain_text(f"Approved {goal_id}/deploy_staging")

        page.goto(f"{gateway}/console/#/goals/{goal_id}")
        expect(page.locator(f'div[data-goal="{goal_id}"]')).to_have_attribute("data-status", "completed")
        expect(page.locator('svg.dag g.node[data-status="succeeded"]')).to_have_count(5)
        timeline = page.locator('[data-testid=timeline] li[data-type="GoalCompleted"]')
        expect(timeline).to_have_count(1)
        expect(page.locator('[data-testid=timeline] li[data-type="ApprovalGranted"]')).to_have_count(1)

        # Replay: the goal's events read back from Kafka, in order, every one of them projected.
        page.click("button[data-action=replay]")
        expect(page.locator("[data-testid=replay-summary]")).to_contain_text("(all projected)")
        replayed = page.locator("[data-testid=replay] li").evaluate_all("items => items.map(i => i.dataset.type)")
        assert replayed[0] == "SubmitGoal", replayed
        order = [replayed.index(t) for t in ("GoalPlanned", "ApprovalRequested", "ApprovalGranted", "GoalCompleted")]
        assert order == sorted(order), replayed
        shot(page, "03-goal-completed-with-replay")

        # The fleet, with load, breaker state and stability.
        page.click("#nav a[data-view=agents]")
        for agent_id in e2e.fleet.agent_ids():
            expect(page.locator(f'tr[data-agent="{agent_id}"]')).to_be_visible()
        # Every agent that ran tasks here has a stability score from the drift monitor.
        for agent_id in {t["agent_id"] for t in e2e.query("SELECT agent_id FROM tasks WHERE goal_id = %s", goal_id)}:
            expect(page.locator(f'tr[data-agent="{agent_id}"]')).to_have_attribute("data-stability", STABILITY)
        shot(page, "04-agents")

        # A dead letter, re-driven: its goal then runs to completion.
        redriven_goal = dead_letter_a_submission(e2e)
        page.click("#nav a[data-view=dead-letters]")
        letter = page.locator("tr[data-offset]", has_text=redriven_goal)
        expect(letter).to_have_count(1)
        shot(page, "05-dead-letters")
        letter.locator("button[data-action=redrive]").click()
        expect(letter.locator("[data-testid=redriven]")).to_have_text("re-driven \u00d71")
        shot(page, "06-dead-letter-redriven")
        page.reload()  # the tab forgets; the read model remembers (the projector saw the re-drive's marker)
        expect(letter.locator("[data-testid=redriven]")).to_have_text("re-driven")
        page.click("#nav a[data-view=goals]")
        expect(page.locator(f'tr[data-goal="{redriven_goal}"]')).to_have_attribute("data-status", "completed")
        shot(page, "07-goals")

        # A key without the admin scope may look but not re-drive; the console says why.
        page.click("#logout")
        expect(page.locator("#login")).to_be_visible()
        sign_in(page, gateway, VIEWER_KEY)
        page.goto(f"{gateway}/console/#/dead-letters")
        page.locator("tr[data-offset]", has_text=redriven_goal).locator("button[data-action=redrive]").click()
        expect(page.locator("#banner")).to_contain_text(f"Not allowed: the API key of 'viewer-{RUN}' lacks the 'admin'")
        shot(page, "08-missing-scope")
    assert time.monotonic() - started < 150
