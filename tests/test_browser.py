"""The search page in a real headless Chromium (Debian's), served over HTTP on 127.0.0.1.

Screenshots land in screenshots/ (results, abstained, document view, phone width, a PDF's
results and document view) for a person to look at. Without Chromium these tests skip with the reason, except under CI, where
scripts/test installs it and its absence is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from qa.index.build import build_index
from qa.retrieve.searcher import Searcher
from qa.web import create_app

from .conftest import REPO, FakeEmbedder, fake_settings
from .pdf_corpus import write_corpus

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SHOTS = REPO / "screenshots"
WAIT = 20  # seconds: a question is answered in well under a second, the first one may load caches

if not (CHROMIUM and CHROMEDRIVER):
    reason = "Debian's chromium and chromium-driver are not installed (scripts/test installs them when run as root)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def serve(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def chrome(javascript: bool = True, width: int = 1100, height: int = 900) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--lang=en-US",
    ]:
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


@pytest.fixture(scope="module")
def site(app) -> Iterator[str]:
    yield from serve(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = chrome()
    yield driver
    driver.quit()


def wait_for(driver, css: str):
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def summary_shows(driver, text: str) -> None:
    """Wait until the results summary holds `text` (it is re-rendered as answers arrive)."""
    WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: text in d.find_element(By.CSS_SELECTOR, ".summary").text
    )


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not an empty page
    return path


def ask(driver, question: str) -> None:
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(question, Keys.ENTER)


def test_asking_updates_results_in_place_and_the_citation_opens_in_context(browser, site):
    browser.get(site + "/")
    assert browser.find_element(By.ID, "search").get_attribute("data-enhanced") == "true"
    browser.execute_script("window.samePage = true")
    ask(browser, "In which newspaper did Lavrov give the interview?")
    first = wait_for(browser, ".hit")
    assert browser.execute_script("return window.samePage") is True  # no reload: the API answered
    assert "?q=In+which+newspaper" in browser.current_url  # and the address can be shared
    assert "Trud" in first.find_element(By.TAG_NAME, "blockquote").text
    assert first.find_element(By.TAG_NAME, "mark").text.strip()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#outcome .hit")) == 5
    assert "Close match" in first.text or "Partial match" in first.text
    shot(browser, "results")

    passage = first.find_element(By.TAG_NAME, "blockquote").text
    sentence = first.find_element(By.TAG_NAME, "mark").text
    first.find_element(By.LINK_TEXT, "Read in context").click()
    cited = wait_for(browser, "mark#cited")
    assert " ".join(cited.text.split()) == " ".join(passage.split())
    assert cited.find_element(By.CSS_SELECTOR, "mark.sentence").text == sentence  # the script's link carries it
    top, _bottom = browser.execute_script(
        "const r = document.getElementById('cited').getBoundingClientRect(); return [r.top, r.bottom];"
    )
    assert 0 <= top < browser.execute_script("return window.innerHeight")  # scrolled into view
    shot(browser, "document")

    browser.back()
    wait_for(browser, ".hit")
    assert browser.find_element(By.ID, "q").get_attribute("value") == "In which newspaper did Lavrov give the interview?"


def test_document_view_text_is_verbatim_and_left_out_runs_faded(browser, site, real_searcher):
    hit = real_searcher.search("Which Israeli loitering munition was used?", 1).hits[0]
    text = real_searcher.document(hit.document.id).text
    assert "|||" in text  # the answer's document has scraped infobox rows
    (hs, he), start = hit.highlight, hit.passage.start
    browser.get(
        f"{site}/documents/{hit.document.id}?start={start}&end={hit.passage.end}"
        f"&sentence_start={start + hs}&sentence_end={start + he}#cited"
    )
    sentence = wait_for(browser, "mark#cited mark.sentence")
    assert sentence.text == hit.passage.text[hs:he]
    assert browser.execute_script("return document.querySelector('.document pre').textContent") == text
    faded = browser.execute_script(
        "return [...document.querySelectorAll('pre .left-out')].map(e => [e.textContent, getComputedStyle(e).opacity])"
    )
    assert any("|||" in piece for piece, _ in faded) and all(float(opacity) < 0.6 for _, opacity in faded)
    assert browser.execute_script("return getComputedStyle(document.getElementById('cited')).opacity") == "1"
    shot(browser, "document-sentence")


def test_the_favicon_loads_under_the_content_security_policy(browser, site):
    browser.get(site + "/")
    href = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    width = browser.execute_async_script(
        "const done = arguments[arguments.length - 1], img = new Image();"
        "img.onload = () => done(img.naturalWidth); img.onerror = () => done(0); img.src = arguments[0];",
        href,
    )
    assert width > 0


def test_example_question_back_and_forward_stay_on_the_page(browser, site):
    browser.get(site + "/")
    browser.execute_script("window.samePage = true")
    example = wait_for(browser, ".examples a")
    first = example.text
    example.click()
    wait_for(browser, ".hit")
    summary_shows(browser, "5 passages for “" + first)
    second = "Who was the Russian co-chair of the OSCE Minsk Group?"
    ask(browser, second)
    summary_shows(browser, second)
    browser.back()
    summary_shows(browser, first)
    assert browser.find_element(By.ID, "q").get_attribute("value") == first
    assert browser.title == first + " · Ask the documents"
    browser.forward()
    summary_shows(browser, second)
    assert browser.execute_script("return window.samePage") is True  # all from history, no reload
    browser.find_element(By.CSS_SELECTOR, ".skip").send_keys(Keys.ENTER)  # the skip link: a #fragment
    assert browser.current_url.endswith("#main")
    assert browser.execute_script("return window.samePage") is True
    assert second in browser.find_element(By.CSS_SELECTOR, ".summary").text
    for _ in range(3):  # #main, then the second question, then the first
        browser.back()
    wait_for(browser, ".examples")  # the first page, as served (reloaded)


def test_abstention_is_stated_and_nearest_passages_listed(browser, site):
    browser.get(site + "/")
    ask(browser, "What is the recipe for chocolate cake?")
    notice = wait_for(browser, ".abstained")
    assert "No confident answer in these documents." in notice.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#outcome .hit")) == 5
    assert browser.find_elements(By.CSS_SELECTOR, ".cue-weak")
    shot(browser, "abstained")


def test_a_question_in_another_language_is_told_why(browser, site):
    browser.get(site + "/")
    ask(browser, "Где начались столкновения в июле 2020 года?")
    notice = wait_for(browser, ".abstained")
    assert "No confident answer in these documents." in notice.text
    assert "seems to be in Russian, but the model understands English only" in notice.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#outcome .hit")) == 5


def test_keyboard_only(browser, site):
    browser.get(site + "/")
    browser.execute_script("document.activeElement.blur()")
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    assert browser.switch_to.active_element.get_attribute("id") == "q"
    browser.switch_to.active_element.send_keys("Which Israeli loitering munition was used?", Keys.ENTER)
    wait_for(browser, ".hit")
    active = browser.switch_to.active_element
    for _ in range(4):  # from the box: the button, then the first citation link
        if active.text == "Read in context":
            break
        active.send_keys(Keys.TAB)
        active = browser.switch_to.active_element
    assert active.text == "Read in context"
    active.send_keys(Keys.ENTER)
    assert "Harop" in wait_for(browser, "mark#cited").text


def test_phone_width_reflows_without_sideways_scrolling(site):
    driver = chrome(width=390, height=844)
    try:
        driver.get(site + "/?q=" + "How many Armenian civilians were killed according to Armenian authorities?")
        wait_for(driver, ".hit")
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        shot(driver, "narrow")
        driver.get(site + "/")
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        shot(driver, "empty-narrow")
    finally:
        driver.quit()


def test_the_plain_form_works_without_javascript(site):
    driver = chrome(javascript=False)
    try:
        driver.get(site + "/")
        assert driver.find_element(By.ID, "search").get_attribute("data-enhanced") is None
        ask(driver, "Who was the Russian co-chair of the OSCE Minsk Group?")
        wait_for(driver, ".hit")
        assert "?q=Who+was+the+Russian" in driver.current_url
        assert any("Popov" in hit.text for hit in driver.find_elements(By.CSS_SELECTOR, "#outcome .hit"))
    finally:
        driver.quit()


HOSTILE = (
    "Hostile page\nThe attacker wrote <script>window.pwned = 1; alert(1)</script> and "
    '<img src=x onerror="window.pwned = 2; alert(2)"> into this document about scripts.\n'
)
ASTRAL = "Emoji page\n🦓🦓🦓🦓 Zebras cross here 🐾. The zebra crossing answer is forty two meters long. Done.\n"


ODD_IDS = ["../escape", "a//b", "/rooted", "plain/id.txt"]  # ids a user's .jsonl may hold


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "corpus").mkdir()
    (root / "corpus" / "evil.txt").write_text(HOSTILE)
    (root / "corpus" / "emoji.txt").write_text(ASTRAL)
    records = [
        {"id": doc_id, "title": f"Quokka {n}", "text": f"A quokka ledger entry, number {n}."} for n, doc_id in enumerate(ODD_IDS)
    ]
    (root / "corpus" / "odd.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = fake_settings(root, corpus=root / "corpus", abstain_threshold=0.0)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    yield from serve(create_app(settings, Searcher.open(settings, embedder)))


def assert_inert(driver) -> None:
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert  # no alert() ran
    assert driver.execute_script("return window.pwned") is None
    assert driver.execute_script("return document.querySelectorAll('main img, main script').length") == 0


@pytest.mark.parametrize("path", ["/?q=scripts", "/documents/evil.txt?start=0&end=40"])
def test_hostile_document_displays_as_text_server_rendered(browser, hostile_site, path):
    browser.get(hostile_site + path)
    main = wait_for(browser, "main")
    assert "<script>window.pwned = 1; alert(1)</script>" in main.text
    assert '<img src=x onerror="window.pwned = 2; alert(2)">' in main.text
    assert_inert(browser)


def test_hostile_document_displays_as_text_rendered_by_script(browser, hostile_site):
    browser.get(hostile_site + "/")
    browser.execute_script("window.samePage = true")
    ask(browser, "<img src=y onerror=alert(3)> scripts")
    hit = wait_for(browser, ".hit")
    assert browser.execute_script("return window.samePage") is True
    assert '<img src=x onerror="window.pwned = 2; alert(2)">' in hit.text
    assert "“<img src=y onerror=alert(3)> scripts”" in browser.find_element(By.CSS_SELECTOR, ".summary").text
    assert_inert(browser)


def test_script_and_server_mark_the_same_characters_beyond_the_basic_plane(browser, hostile_site):
    question = "zebra crossing forty two meters"
    browser.get(hostile_site + "/?q=" + question.replace(" ", "+"))
    served = wait_for(browser, ".hit mark").text
    browser.get(hostile_site + "/")
    ask(browser, question)
    scripted = wait_for(browser, ".hit mark").text
    assert scripted == served and "zebra crossing answer" in served


def test_script_and_server_show_sources_relative_to_the_corpus_folder(browser, hostile_site):
    browser.get(hostile_site + "/?q=scripts")
    served = wait_for(browser, ".hit .source").text
    browser.get(hostile_site + "/")
    ask(browser, "scripts")
    summary_shows(browser, "for “scripts”")
    scripted = wait_for(browser, ".hit .source").text
    assert scripted == served and served.startswith("evil.txt, characters ")  # the corpus is in a temp folder


def test_script_and_server_link_every_id_so_that_the_browser_opens_it(browser, hostile_site):
    links = "return [...document.querySelectorAll('.hit a[data-slot=link]')].map((a) => a.href)"  # as resolved
    browser.get(hostile_site + "/?q=quokka+ledger")
    served = browser.execute_script(links)
    browser.get(hostile_site + "/")
    ask(browser, "quokka ledger")
    summary_shows(browser, "for “quokka ledger”")
    assert browser.execute_script(links) == served and len(served) == 5
    opened = set()
    for href in served[:4]:
        browser.get(href)
        opened.add(wait_for(browser, "h1").text)
    assert opened == {f"Quokka {n}" for n in range(len(ODD_IDS))}


def test_a_right_to_left_override_stays_inside_the_question(browser, hostile_site):
    question = "scripts \u202e?sdrawkcab"
    browser.get(hostile_site + "/?q=scripts+%E2%80%AE%3Fsdrawkcab")
    assert browser.title == "scripts ?sdrawkcab · Ask the documents"
    browser.get(hostile_site + "/")
    ask(browser, question)
    summary_shows(browser, "sdrawkcab")
    assert browser.title == "scripts ?sdrawkcab · Ask the documents"
    assert browser.execute_script("return document.querySelector('.summary bdi').textContent") == question


PDF_QUESTION = "toll shillings east pier"  # page 2 of report.pdf (tests/pdf_corpus.py)
CARD = (  # each card's source line, and where its file link goes
    "return [...document.querySelectorAll('.hit')]"
    ".map((h) => [h.querySelector('.source').textContent, h.querySelector('.file').href])"
)


@pytest.fixture(scope="module")
def pdf_site(tmp_path_factory) -> Iterator[str]:
    """PDFs drawn with reportlab and a text file, with the fake embedder."""
    root = tmp_path_factory.mktemp("pdf-site")
    settings = fake_settings(root, corpus=write_corpus(root / "corpus"))
    build_index(settings, FakeEmbedder())
    yield from serve(create_app(settings, Searcher.open(settings, FakeEmbedder())))


def test_script_and_server_show_the_page_and_link_the_pdf_at_it(browser, pdf_site):
    browser.get(pdf_site + "/?q=" + PDF_QUESTION.replace(" ", "+"))
    served = browser.execute_script(CARD)
    browser.get(pdf_site + "/")
    ask(browser, PDF_QUESTION)
    summary_shows(browser, "for “" + PDF_QUESTION)
    assert browser.execute_script(CARD) == served
    source, link = served[0]
    assert source.startswith("report.pdf, p. 2, characters ") and link == pdf_site + "/documents/report.pdf/original#page=2"
    shot(browser, "pdf-results")


def test_pdf_document_view_marks_pages_and_copies_as_the_text(browser, pdf_site):
    browser.get(pdf_site + "/?q=" + PDF_QUESTION.replace(" ", "+"))
    wait_for(browser, ".hit").find_element(By.LINK_TEXT, "Read in context").click()
    cited = wait_for(browser, "mark#cited")
    assert cited.text.startswith("Ships moored at the east pier")
    markers = browser.find_elements(By.CSS_SELECTOR, "pre .page-start")
    assert [m.text for m in markers] == ["— page 1 —", "— page 2 —", "— page 3 —"] and all(m.is_displayed() for m in markers)
    assert [m.get_attribute("role") for m in markers] == ["heading"] * 3
    text = browser.execute_script("return fetch('/api/documents/report.pdf').then((r) => r.json()).then((d) => d.text)")
    copied = browser.execute_script(
        "const range = document.createRange(); range.selectNodeContents(document.querySelector('.document pre'));"
        "getSelection().removeAllRanges(); getSelection().addRange(range); return getSelection().toString();"
    )
    assert copied.strip() == text.strip()  # the markers are never copied with the text
    browser.execute_script("getSelection().removeAllRanges()")
    file = browser.find_element(By.CSS_SELECTOR, ".source .file")
    assert file.text == "Open the PDF at p. 2" and file.get_attribute("href").endswith("/documents/report.pdf/original#page=2")
    kind = browser.execute_script(
        "return fetch(arguments[0]).then((r) => r.headers.get('Content-Type'))", file.get_attribute("href")
    )
    assert kind == "application/pdf"
    shot(browser, "pdf-document")


def test_script_and_server_show_the_answer_in_bold_only_when_there_is_one(browser, site):
    question = "Who was Armenia's defence minister in 2022?"
    browser.get(site + "/?q=" + question.replace(" ", "+").replace("'", "%27"))
    served = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".hit mark strong.answer")]
    browser.get(site + "/")
    ask(browser, question)
    summary_shows(browser, "for “" + question + "”")
    scripted = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".hit mark strong.answer")]
    assert scripted == served and "Suren Papikyan" in served
    shot(browser, "answer-span")
    ask(browser, "Why did the war start?")  # no kind of answer asked: no bold answer
    summary_shows(browser, "for “Why did the war start?”")
    assert browser.find_elements(By.CSS_SELECTOR, ".hit mark") and not browser.find_elements(By.CSS_SELECTOR, ".hit strong")
