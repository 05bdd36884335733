"""The course as a learner sees it: JupyterLab in headless Chromium, driven by Playwright.

The test starts a private JupyterLab on a free loopback port (temporary token, temporary config, a temporary copy
of ``notebooks/``), opens ``00_setup_and_tour.ipynb``, runs all cells from the Run menu and then checks what is on
the page: pictures rendered, quiz widgets rendered with their choices, a wrong and a right answer give the right
feedback, an answer typed into an answer cell survives save + reload, no cell shows a traceback and the browser
console shows no widget errors. A second test feeds the same checks a notebook with a broken quiz cell and expects
them to say so.

Needs Debian's Chromium and the ``playwright`` Python package (Playwright's own browser download is not used)::

    apt-get install chromium
    pip install playwright          # or: pip install -e '.[test]'

Run it alone with ``python -m pytest tests/test_browser.py``; skip it with ``--no-browser-test``. Screenshots land
in ``test-artifacts/browser/`` at the repository root (``notebook.png``, ``quiz-after-right-answer.png``, ...).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("IFLEARN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

TOUR = "00_setup_and_tour.ipynb"
TOUR_QUIZZES = ["if-00-mini-backend", "if-00-real-needs", "if-00-licence-once", "if-00-gated-error", "if-00-doctor"]
KOREAN = "ko/03_noising.ipynb"
KOREAN_QUIZZES = ["if-03-noising-extracts", "if-03-forward-formula", "if-03-schedule", "if-03-num-steps",
                  "if-03-snr-direction"]
BROKEN = "zz_broken_widget.ipynb"
BROKEN_QID = "no-such-question"

RUN_ALL_TIMEOUT_S = 240
SERVER_START_TIMEOUT_S = 90

# console messages that mean the widget manager could not show a widget
WIDGET_ERROR = re.compile(r"widget|model not found|could not create (a )?view|\bcomm\b", re.IGNORECASE)


# -- requirements ----------------------------------------------------------------------------------------------
def _require_browser() -> Any:
    """The Playwright module, or a skip that says how to install what is missing."""
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        pytest.skip("the playwright Python package is not installed: "
                    "pip install playwright (or pip install -e '.[test]')")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium "
                    "(or set IFLEARN_CHROMIUM to a Chromium binary)")
    return sync_api


# -- the JupyterLab server -------------------------------------------------------------------------------------
@dataclass
class Lab:
    """A running private JupyterLab."""

    url: str
    port: int
    token: str
    root: Path
    tmp: Path
    proc: subprocess.Popen
    log: Path

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> Any:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        if method == "POST":
            req.data = b""
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}&reset"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_env(tmp: Path) -> dict[str, str]:
    """The environment of the server and its kernels: English course, one thread, offline, no user config."""
    # MPLBACKEND (e.g. Agg from a test runner) would stop plt.show() from drawing into the notebook
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "IPYTHON", "JPY_")) and k != "MPLBACKEND"}
    dirs = {
        "HOME": tmp / "home",
        "JUPYTER_CONFIG_DIR": tmp / "jupyter-config",
        "JUPYTER_DATA_DIR": tmp / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": tmp / "jupyter-runtime",
        "JUPYTERLAB_SETTINGS_DIR": tmp / "jupyterlab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": tmp / "jupyterlab-workspaces",
        "IPYTHONDIR": tmp / "ipython",
        "MPLCONFIGDIR": tmp / "matplotlib",
        "XDG_CONFIG_HOME": tmp / "home" / ".config",
        "XDG_CACHE_HOME": tmp / "home" / ".cache",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env.update({k: str(v) for k, v in dirs.items()})
    env.update({
        "IFLEARN_LANG": "en",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
        # the venv's own python3 kernelspec (sys.prefix/share/jupyter) is on Jupyter's path whatever the dirs above
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    })
    # every cell in the DOM (JupyterLab 4 otherwise renders only the cells near the viewport), so the checks
    # see every output of a notebook that was committed with its outputs
    tracker = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # no news pop-up over the screenshots
    labconfig = dirs["JUPYTER_CONFIG_DIR"] / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    return env


_LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def _listening(inodes: set[str] | None = None, port: int | None = None) -> list[tuple[str, int]]:
    """``(hex address, port)`` of listening TCP sockets, by socket inode and/or port, from /proc/net/tcp{,6}."""
    found = []
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            addr, hexport = cols[1].split(":")
            if cols[3] != "0A":  # LISTEN
                continue
            if (inodes is None or cols[9] in inodes) and (port is None or int(hexport, 16) == port):
                found.append((addr, int(hexport, 16)))
    return found


def _socket_inodes(pids: list[str]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return inodes


def beyond_loopback(lab: Lab) -> list[str]:
    """Listening sockets of the server (its port) and of every process it started that are not on 127.0.0.1."""
    pids = [entry.split(":")[0] for entry in _our_processes(str(lab.tmp))]
    sockets = set(_listening(port=lab.port)) | set(_listening(inodes=_socket_inodes(pids)))
    return sorted(f"{addr}:{port}" for addr, port in sockets if addr not in _LOOPBACK)


def _our_processes(marker: str) -> list[str]:
    """Live processes whose command line mentions ``marker`` (the server's temporary folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            state = next((l for l in (proc / "status").read_text().splitlines() if l.startswith("State:")), "")
        except OSError:
            continue
        if marker in cmd and "zombie" not in state:
            found.append(f"{proc.name}: {cmd[:200]}")
    return found


def _stop_lab(lab: Lab) -> None:
    """POST /api/shutdown (stops kernels too), then end the process group: TERM, and KILL if it lingers."""
    try:
        lab.api("/api/shutdown", method="POST", timeout=10)
    except (OSError, urllib.error.URLError, ValueError):
        pass
    try:
        lab.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(lab.proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            lab.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
    # kernels run in sessions of their own: they end on /api/shutdown or when they see the server gone; any that
    # is still there after a while (found by the temporary folder in its command line) is ended by its pid
    deadline = time.monotonic() + 10
    while _our_processes(str(lab.tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for entry in _our_processes(str(lab.tmp)):
        try:
            os.kill(int(entry.split(":")[0]), signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A private JupyterLab serving a temporary copy of ``notebooks/`` plus a deliberately broken notebook."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "notebooks"
    root.mkdir()
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy2(nb, root / nb.name)
    (root / "ko").mkdir()
    for nb in sorted((NOTEBOOKS / "ko").glob("*.ipynb")):
        shutil.copy2(nb, root / "ko" / nb.name)
    _write_broken_notebook(root / BROKEN)
    env = _lab_env(tmp)
    kernels = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"], env=env,
                             capture_output=True, text=True, timeout=60)
    if kernels.returncode != 0 or "python3" not in json.loads(kernels.stdout or "{}").get("kernelspecs", {}):
        pytest.fail("no python3 kernelspec visible to Jupyter in the test environment:\n"
                    f"{kernels.stdout}{kernels.stderr}")

    port, token = _free_port(), secrets.token_hex(24)
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
        # a safety net should the test process itself be killed: the server stops after 15 idle minutes
        "--ServerApp.shutdown_no_activity_timeout=900",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Lab(url=f"http://127.0.0.1:{port}", port=port, token=token, root=root, tmp=tmp, proc=proc, log=log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode} before answering:\n{server.log_tail()}")
            try:
                urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=2).read()
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer /api/status within {SERVER_START_TIMEOUT_S} s:\n"
                                f"{server.log_tail()}")
                time.sleep(0.5)
        bad = beyond_loopback(server)
        assert not bad, f"JupyterLab listens beyond loopback: {bad}"
        yield server
    finally:
        _stop_lab(server)
    left = _our_processes(str(tmp))
    assert not left, "JupyterLab or kernel processes outlived the test:\n" + "\n".join(left)


def _write_broken_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("A quiz cell that asks for a question that does not exist."),
                nbformat.v4.new_code_cell(f'from iflearn.quiz import ask; ask("{BROKEN_QID}")')]
    nbformat.write(nb, path)


# -- the browser -----------------------------------------------------------------------------------------------
@dataclass
class Console:
    """Browser console messages and page errors, split into phases (opened, Run All, reload, ...)."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    marks: list[tuple[int, str]] = field(default_factory=lambda: [(0, "open")])

    def attach(self, page: Any) -> None:
        page.on("console", lambda msg: self.messages.append((msg.type, msg.text)))
        page.on("pageerror", lambda exc: self.messages.append(("pageerror", str(exc))))

    def mark(self, phase: str) -> None:
        """From now on, messages belong to ``phase``."""
        self.marks.append((len(self.messages), phase))

    def widget_errors(self, phase: str | None = None) -> list[str]:
        """Error messages about widgets in ``phase`` (the current one when None)."""
        bounds = self.marks + [(len(self.messages), "")]
        phase = phase or self.marks[-1][1]
        found = []
        for (start, name), (end, _next) in zip(bounds, bounds[1:]):
            if name == phase:
                found += [f"{kind}: {text}" for kind, text in self.messages[start:end]
                          if kind in ("error", "pageerror") and WIDGET_ERROR.search(text)]
        return found

    def dump(self, path: Path) -> None:
        starts = dict(self.marks)
        lines = []
        for i, (kind, text) in enumerate(self.messages + [("", "")]):
            if i in starts:
                lines.append(f"--- {starts[i]} ---")
            if kind:
                lines.append(f"[{kind}] {text}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def browser(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_api = _require_browser()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, device_scale_factor=1,
        )
        try:
            yield context
        finally:
            context.close()
    left = _our_processes(str(profile))
    assert not left, "Chromium processes outlived the test:\n" + "\n".join(left)


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        page.close()


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


# -- helpers that drive JupyterLab as a learner does ----------------------------------------------------------
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CELL = f"{NOTEBOOK} .jp-Cell"
OUTPUT = f"{NOTEBOOK} .jp-OutputArea-output"


def open_notebook(page: Any, lab: Lab, name: str, timeout_s: float = 120, reload: bool = False) -> None:
    """Open (or reload) ``name`` in JupyterLab; wait until all its cells are shown and its kernel is idle."""
    import nbformat
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    expected = len(nbformat.read(lab.root / name, as_version=4).cells)
    if reload:
        page.reload(wait_until="domcontentloaded")
    else:
        page.goto(lab.page_url(name), wait_until="domcontentloaded")
    try:
        page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n", arg=[CELL, expected],
                               timeout=timeout_s * 1000)
    except PlaywrightTimeout as exc:
        raise AssertionError(f"{name} did not show its {expected} cells within {timeout_s:.0f} s "
                             f"(it shows {page.locator(CELL).count()})") from exc
    wait_kernel_idle(page, timeout_s)


def kernel_status(page: Any) -> str:
    """The notebook toolbar's kernel status (``idle``, ``busy``, ``starting``, ...), or ``""``."""
    indicator = page.locator(f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator").first
    if indicator.count() == 0:
        return ""
    return indicator.get_attribute("data-status") or ""


def busy_prompts(page: Any) -> int:
    """How many cells show ``[*]`` (running or queued)."""
    return page.locator(f"{CELL} .jp-InputPrompt", has_text="[*]").count()


def wait_kernel_idle(page: Any, timeout_s: float, settle_s: float = 1.0) -> None:
    """Wait until the kernel is idle and no cell shows ``[*]``, for ``settle_s`` in a row."""
    deadline = time.monotonic() + timeout_s
    calm_since = None
    while True:
        status, busy = kernel_status(page), busy_prompts(page)
        if status == "idle" and busy == 0:
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= settle_s:
                return
        else:
            calm_since = None
        if time.monotonic() > deadline:
            raise AssertionError(f"the kernel was still {status or 'unknown'} with {busy} cell(s) at [*] "
                                 f"after {timeout_s:.0f} s")
        page.wait_for_timeout(250)


def run_all_cells(page: Any, console: Console | None = None, timeout_s: float = RUN_ALL_TIMEOUT_S) -> float:
    """Run → Run All Cells from the menu bar; wait for the kernel to finish. Returns the seconds it took."""
    if console is not None:
        console.mark("Run All")
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu").get_by_role("menuitem", name="Run All Cells", exact=True).click()
    started = time.monotonic()
    # Run All queues every cell at once: wait until something runs, then until it all finishes
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            """sel => document.querySelector(sel + ' .jp-Notebook-ExecutionIndicator[data-status="busy"]')
                     || [...document.querySelectorAll(sel + ' .jp-InputPrompt')]
                        .some(p => p.textContent.includes('[*]'))""",
            arg=NOTEBOOK, timeout=30_000)
    except PlaywrightTimeout:  # a very fast notebook may already be done
        pass
    wait_kernel_idle(page, timeout_s, settle_s=2.0)
    return time.monotonic() - started


def rendered_images(page: Any) -> list[dict[str, Any]]:
    """Every ``<img>`` in an output area, scrolled into view, with its natural and shown size."""
    images = page.locator(f"{OUTPUT} img")
    found = []
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        found.append(img.evaluate(
            """im => { const r = im.getBoundingClientRect();
                       return {complete: im.complete, naturalWidth: im.naturalWidth, naturalHeight: im.naturalHeight,
                               width: r.width, height: r.height, src: (im.src || '').slice(0, 40)}; }"""))
    return found


def rendered_images_settled(page: Any, at_least: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """:func:`rendered_images`, polled until ``at_least`` have rendered or ``timeout_s`` passes.

    Outputs of a long notebook reach the page a little after the kernel goes idle on a loaded machine; the
    notebook is scrolled from the top on each poll so every output has been in view.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        page.locator(f"{NOTEBOOK} .jp-WindowedPanel-outer").first.evaluate("el => el.scrollTo(0, 0)") \
            if page.locator(f"{NOTEBOOK} .jp-WindowedPanel-outer").count() else None
        images = rendered_images(page)
        good = [im for im in images if im["complete"] and im["naturalWidth"] > 0 and im["width"] > 0]
        if len(good) >= at_least or time.monotonic() > deadline:
            return images
        page.wait_for_timeout(500)


def quiz_widget(page: Any, qid: str) -> Any:
    """The output holding the quiz widget for ``qid`` (found by the id shown under its question)."""
    return page.locator(f'{OUTPUT}:has(.widget-vbox code:text-is("{qid}"))')


def check_quiz_rendered(page: Any, qid: str, button: str = "Check") -> list[str]:
    """Problems with quiz widget ``qid``: missing, or without choices or Check button (``"확인"`` in Korean)."""
    widget = quiz_widget(page, qid)
    if widget.count() == 0:
        return [f"quiz widget {qid!r} did not render (no widget output showing that id)"]
    widget.first.scroll_into_view_if_needed()
    problems = []
    choices = widget.locator(".widget-radio-box label, .widget-toggle-button, .widget-checkbox, input[type=text]")
    if choices.count() == 0:
        problems.append(f"quiz widget {qid!r} shows no choices or input")
    if widget.get_by_role("button", name=button).count() != 1:
        problems.append(f"quiz widget {qid!r} has no {button} button")
    return problems


def pick_and_check(page: Any, qid: str, choice_id: str, button: str = "Check") -> str:
    """Pick choice ``choice_id`` (the ``b)`` prefix of a radio label), press Check; return the feedback text."""
    widget = quiz_widget(page, qid).first
    widget.scroll_into_view_if_needed()
    widget.locator(".widget-radio-box label", has_text=re.compile(rf"^\s*{re.escape(choice_id)}\)")).click()
    feedback = widget.locator(".widget-html").last
    before = feedback.text_content() or ""
    widget.get_by_role("button", name=button).click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = feedback.text_content() or ""
        if text.strip() and text != before:
            return text
        page.wait_for_timeout(100)
    return feedback.text_content() or ""


def traceback_outputs(page: Any) -> list[tuple[str, str]]:
    """``(prompt, text)`` of every output that shows a Python error: a traceback or an error output."""
    found = []
    outputs = page.locator(f'{OUTPUT}[data-mime-type="application/vnd.jupyter.stderr"]')
    for i in range(outputs.count()):
        text = outputs.nth(i).text_content() or ""
        if "Traceback" in text or re.search(r"^\w*(Error|Exception)\b", text, re.MULTILINE):
            found.append((_cell_number(outputs.nth(i)), text))
    return found


def _cell_number(output: Any) -> str:
    """The execution prompt of the cell holding ``output``, e.g. ``[7]``."""
    prompt = output.evaluate("el => el.closest('.jp-Cell')?.querySelector('.jp-InputPrompt')?.textContent || ''")
    return prompt.strip().rstrip(":") or "[?]"


def _cell_first_line(output: Any) -> str:
    return output.evaluate("el => el.closest('.jp-Cell')?.querySelector('.cm-line')?.textContent || ''")


def widget_display_errors(page: Any) -> list[str]:
    """Outputs where JupyterLab shows "Error displaying widget" instead of a widget, as ``[n] first source line``."""
    outputs = page.locator(OUTPUT, has_text="Error displaying widget")
    return [f"{_cell_number(outputs.nth(i))} {_cell_first_line(outputs.nth(i))}" for i in range(outputs.count())]


def notebook_problems(page: Any, console: Console, quizzes: list[str], min_images: int = 0,
                      button: str = "Check") -> list[str]:
    """Everything a learner would see as broken after Run All, as readable sentences (empty list: all good)."""
    problems = []
    for prompt, text in traceback_outputs(page):
        last = [line for line in text.strip().splitlines() if line.strip()][-1]
        problems.append(f"cell {prompt} shows a traceback: {last[:300]}")
    problems += [f"cell {where} shows \"Error displaying widget\"" for where in widget_display_errors(page)]
    for qid in quizzes:
        problems += check_quiz_rendered(page, qid, button)
    images = rendered_images_settled(page, min_images)
    broken = [im for im in images if not (im["complete"] and im["naturalWidth"] > 0 and im["width"] > 0
                                          and im["height"] > 0)]
    if broken:
        problems.append(f"{len(broken)} output image(s) did not render: {broken}")
    if len(images) - len(broken) < min_images:
        problems.append(f"expected at least {min_images} rendered image(s) in the outputs, found "
                        f"{len(images) - len(broken)}")
    problems += [f"browser console after Run All: {msg[:300]}" for msg in console.widget_errors("Run All")]
    return problems


def assert_notebook_ok(page: Any, console: Console, quizzes: list[str], min_images: int = 0,
                       button: str = "Check") -> None:
    """Raise ``AssertionError`` listing what is broken (see :func:`notebook_problems`)."""
    problems = notebook_problems(page, console, quizzes, min_images, button)
    if problems:
        raise AssertionError("the notebook does not look right in JupyterLab:\n- " + "\n- ".join(problems))


def code_cell(page: Any, contains: str) -> Any:
    """The code cell whose source contains ``contains``, pinned by position (so it stays found after an edit)."""
    found = page.locator(f"{CELL}.jp-CodeCell", has=page.locator(".cm-content", has_text=contains))
    if found.count() == 0:
        raise AssertionError(f"no code cell contains {contains!r}")
    index = found.first.evaluate("(el, sel) => [...document.querySelectorAll(sel)].indexOf(el)", CELL)
    return page.locator(CELL).nth(index)


def cell_source(cell: Any) -> str:
    return "\n".join(cell.locator(".cm-content .cm-line").all_text_contents())


def replace_in_first_line(page: Any, cell: Any, old: str, new: str) -> None:
    """Edit the first line of ``cell`` with the keyboard: put the cursor after ``old``, delete it, type ``new``."""
    line = cell.locator(".cm-content .cm-line").first.text_content() or ""
    at = line.rindex(old) + len(old)
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    for _ in range(at):
        page.keyboard.press("ArrowRight")
    for _ in range(len(old)):
        page.keyboard.press("Backspace")
    page.keyboard.type(new)


def screenshot(locator: Any, name: str, padding: int = 0) -> Path:
    path = _artifact(name)
    locator.scroll_into_view_if_needed()
    if padding:
        box = locator.bounding_box()
        page = locator.page
        page.screenshot(path=str(path), clip={"x": max(box["x"] - padding, 0), "y": max(box["y"] - padding, 0),
                                              "width": box["width"] + 2 * padding,
                                              "height": box["height"] + 2 * padding})
    else:
        locator.screenshot(path=str(path))
    return path


class _Clock:
    """Seconds spent in each phase of a test, for the printed summary (``pytest -s``)."""

    def __init__(self) -> None:
        self.start, self.laps = time.monotonic(), []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps.append((name, now - self.start))
        self.start = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {secs:.1f} s" for name, secs in self.laps)


# -- the tests -------------------------------------------------------------------------------------------------
def test_tour_notebook_as_a_learner_sees_it(lab: Lab, page: Any) -> None:
    """00_setup_and_tour: Run All, pictures and quizzes render, feedback is right, a typed answer is kept."""
    import nbformat

    console = Console()
    console.attach(page)
    clock = _Clock()
    try:
        open_notebook(page, lab, TOUR)
        clock.lap("open")
        opened_errors = console.widget_errors("open")
        seconds = run_all_cells(page, console)
        clock.lap("Run All")
        images = [im for im in rendered_images(page) if im["naturalWidth"] > 0]
        print(f"Run All took {seconds:.1f} s; {len(images)} output image(s); widget errors in the console on open "
              f"(before Run All): {opened_errors or 'none'}")

        # 0. the server and the kernel it started listen on loopback only
        assert not beyond_loopback(lab), f"listening beyond loopback: {beyond_loopback(lab)}"
        # 1. pictures, quiz widgets, no tracebacks, no widget errors in the console
        assert_notebook_ok(page, console, TOUR_QUIZZES, min_images=2)
        screenshot(page.locator(NOTEBOOK), "notebook.png")
        clock.lap("checks")

        # 2. a wrong, then a right answer in the widget
        qid = "if-00-mini-backend"
        wrong = pick_and_check(page, qid, "a")
        assert "Not quite" in wrong and "❌" in wrong, f"feedback after a wrong answer: {wrong!r}"
        right = pick_and_check(page, qid, "b")
        assert "Correct" in right and "✅" in right, f"feedback after the right answer: {right!r}"
        assert 'answer("if-00-mini-backend", "b")' in right, right
        screenshot(quiz_widget(page, qid).first, "quiz-after-right-answer.png", padding=4)
        clock.lap("quiz clicks")

        # 3. the graded answer: edit the answer cell, run it, save, reload
        cell = code_cell(page, 'answer("if-00-mini-backend", None)')
        replace_in_first_line(page, cell, "None", '"b"')
        recorded = 'answer("if-00-mini-backend", "b")'
        assert cell_source(cell).splitlines()[0] == recorded, cell_source(cell)
        page.keyboard.press("Shift+Enter")
        wait_kernel_idle(page, 60)
        assert "Correct" in (cell.locator(".jp-OutputArea-output").first.text_content() or "")
        page.keyboard.press("Control+s")
        saved = lab.root / TOUR

        def saved_answer() -> bool:
            try:
                cells = nbformat.read(saved, as_version=4).cells
            except (OSError, ValueError):  # caught mid-write
                return False
            return any(c.cell_type == "code" and c.source.splitlines()[:1] == [recorded] for c in cells)

        deadline = time.monotonic() + 30
        while not saved_answer() and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert saved_answer(), f"{recorded} is not in the saved {TOUR} 30 s after Ctrl+S"

        clock.lap("answer + save")
        console.mark("reload")
        open_notebook(page, lab, TOUR, reload=True)
        deadline = time.monotonic() + 30  # the widget manager restores the kernel's widgets after the page loads
        while any(check_quiz_rendered(page, q) for q in TOUR_QUIZZES) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        page.wait_for_timeout(2000)
        cell = code_cell(page, "if-00-mini-backend\", \"b\"")
        cell.scroll_into_view_if_needed()
        assert cell_source(cell).splitlines()[0] == recorded, "the answer did not survive save + reload"
        assert traceback_outputs(page) == [], traceback_outputs(page)
        for qid in TOUR_QUIZZES:
            assert check_quiz_rendered(page, qid) == [], check_quiz_rendered(page, qid)
        # outputs saved while the kernel ran may name widget models that were closed since (progress bars that
        # do not stay): reopening shows "Error displaying widget" there. Reported, not failed: see the warning.
        stale = widget_display_errors(page)
        if stale:
            warnings.warn(f"after save + reload, {len(stale)} output(s) show \"Error displaying widget: model not "
                          f"found\" (console: {len(console.widget_errors('reload'))} widget error(s)), in cells: "
                          f"{stale}", UserWarning, stacklevel=1)
        print(f"after reload: outputs showing a widget error: {stale or 'none'}")
        screenshot(page.locator(NOTEBOOK), "notebook-after-reload.png")
        clock.lap("reload + checks")
        print(f"phases: {clock}")
    finally:
        console.dump(_artifact("console-tour.txt"))
        if not page.is_closed():
            page.screenshot(path=str(_artifact("last-page-tour.png")))


def test_korean_notebook_as_a_korean_learner_sees_it(lab: Lab, page: Any) -> None:
    """ko/03_noising: Run All in the Korean edition; the quizzes speak Korean and answer, the figure's Korean labels
    render (``test-artifacts/browser/ko-figure.png``, committed as docs/img/ko_notebook_figure.png), no cell
    shows a traceback."""
    console = Console()
    console.attach(page)
    try:
        open_notebook(page, lab, KOREAN)
        seconds = run_all_cells(page, console)
        print(f"Run All (Korean edition) took {seconds:.1f} s")
        assert_notebook_ok(page, console, KOREAN_QUIZZES, min_images=2, button="확인")
        # the markdown and the quiz text are Korean
        assert page.locator(".jp-MarkdownOutput h1", has_text="노이즈 추가").count() >= 1
        question = quiz_widget(page, "if-03-forward-formula").first.text_content() or ""
        assert "노이즈" in question, f"the quiz question is not in Korean: {question[:200]!r}"
        wrong = pick_and_check(page, "if-03-forward-formula", "b", button="확인")
        assert "아쉽지만 틀렸습니다" in wrong and "❌" in wrong, f"feedback after a wrong answer: {wrong!r}"
        right = pick_and_check(page, "if-03-forward-formula", "a", button="확인")
        assert "정답입니다" in right and "✅" in right, f"feedback after the right answer: {right!r}"
        screenshot(quiz_widget(page, "if-03-forward-formula").first, "ko-quiz-after-right-answer.png", padding=4)
        # the schedule figure, whose title, axes and legend are Korean
        figure = code_cell(page, "타임스텝 t").locator(".jp-OutputArea-output img").first
        figure.scroll_into_view_if_needed()
        assert (figure.evaluate("im => im.naturalWidth") or 0) > 0, "the Korean figure did not render"
        screenshot(code_cell(page, "타임스텝 t"), "ko-figure.png", padding=4)  # docs/img/ko_notebook_figure.png
    finally:
        console.dump(_artifact("console-korean.txt"))
        if not page.is_closed():
            page.screenshot(path=str(_artifact("last-page-korean.png")))


def test_checks_catch_a_broken_quiz_widget(lab: Lab, page: Any) -> None:
    """The same checks, fed ``ask("no-such-question")``, report the traceback and the missing widget."""
    console = Console()
    console.attach(page)
    try:
        open_notebook(page, lab, BROKEN)
        run_all_cells(page, console, timeout_s=90)
        problems = notebook_problems(page, console, [BROKEN_QID])
        with pytest.raises(AssertionError) as failure:
            assert_notebook_ok(page, console, [BROKEN_QID])
        message = str(failure.value)
        assert f"quiz widget {BROKEN_QID!r} did not render" in message, message
        assert "shows a traceback: KeyError" in message and BROKEN_QID in message, message
        assert len(problems) == 2, problems
        screenshot(page.locator(NOTEBOOK), "broken-widget.png")
        _artifact("broken-widget-report.txt").write_text(message + "\n", encoding="utf-8")
    finally:
        console.dump(_artifact("console-broken.txt"))
