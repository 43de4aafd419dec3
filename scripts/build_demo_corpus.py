"""Build the small real corpus that `make demo` reads: examples/corpus/.

The committed files are what the demo uses; this script is only how they were made and
how to refresh them. Two subcommands:

  refresh  Copy the four Canterbury texts out of the brotli 1.1.0 sdist and the chosen
           Python 3.11 documentation pages out of an installed python3.11-doc, byte for
           byte; then build the WARC and rewrite MANIFEST.sha256.

               pip download --no-deps --no-binary :all: brotli==1.1.0 -d /tmp/brotli
               apt-get install python3.11-doc
               python scripts/build_demo_corpus.py refresh \\
                   --brotli-sdist /tmp/brotli/Brotli-1.1.0.tar.gz \\
                   --docs-html /usr/share/doc/python3.11/html

  warc     Build only the WARC from the pages already under examples/corpus. The test
           runs this into a temporary folder and compares bytes with the committed WARC.

               python scripts/build_demo_corpus.py warc [--out PATH]

The WARC is deterministic: every record carries the same fixed WARC-Date, each
WARC-Record-ID is a uuid5 of the record's URL, and warcio gzips each record with zlib,
whose gzip header has mtime 0. Byte-identical rebuilds therefore need only the same
page bytes, the same warcio and the same zlib (a different deflate implementation, such
as zlib-ng, may produce different but equally valid compressed bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tarfile
import uuid
from io import BytesIO
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT / "examples" / "corpus"

BROTLI_TESTDATA = "tests/testdata"  # inside the sdist's top folder, Brotli-1.1.0/
BOOKS = ("alice29.txt", "asyoulik.txt", "plrabn12.txt", "lcet10.txt")

DOCS_COPYRIGHT = Path("/usr/share/doc/python3.11-doc/copyright")
DOCS_LICENCE_NAME = "LICENSE-PSF.txt"
DOCS_BASE_URL = "https://docs.python.org/3.11/"

# Prose-heavy pages, paths relative to the html/ folder of python3.11-doc.
PAGES = (
    "about.html",
    "bugs.html",
    "copyright.html",
    "license.html",
    "tutorial/appetite.html",
    "tutorial/interpreter.html",
    "tutorial/introduction.html",
    "tutorial/controlflow.html",
    "tutorial/datastructures.html",
    "tutorial/modules.html",
    "tutorial/inputoutput.html",
    "tutorial/errors.html",
    "tutorial/classes.html",
    "tutorial/stdlib.html",
    "tutorial/stdlib2.html",
    "tutorial/venv.html",
    "tutorial/whatnow.html",
    "tutorial/interactive.html",
    "tutorial/floatingpoint.html",
    "tutorial/appendix.html",
    "howto/annotations.html",
    "howto/argparse.html",
    "howto/ipaddress.html",
    "howto/logging.html",
    "howto/pyporting.html",
    "howto/sockets.html",
    "howto/sorting.html",
    "howto/unicode.html",
    "howto/urllib2.html",
    "faq/general.html",
    "faq/design.html",
    "faq/library.html",
    "faq/extending.html",
    "faq/windows.html",
    "faq/gui.html",
    "faq/installed.html",
    "library/intro.html",
    "library/textwrap.html",
    "library/fnmatch.html",
    "library/glob.html",
    "library/html.html",
    "library/secrets.html",
    "library/unicodedata.html",
    "library/keyword.html",
    "library/copy.html",
    "library/__future__.html",
    "library/bisect.html",
    "library/heapq.html",
    "library/reprlib.html",
    "whatsnew/2.1.html",
    "whatsnew/3.1.html",
)

# The subset of PAGES wrapped as HTTP responses in the WARC, in record order.
WARC_NAME = "python-docs.warc.gz"
WARC_PAGES = (
    "howto/annotations.html",
    "howto/argparse.html",
    "howto/ipaddress.html",
    "howto/logging.html",
    "howto/pyporting.html",
    "howto/sockets.html",
    "howto/sorting.html",
    "howto/unicode.html",
    "howto/urllib2.html",
    "faq/general.html",
    "faq/design.html",
    "faq/library.html",
    "faq/extending.html",
    "faq/windows.html",
    "faq/gui.html",
    "faq/installed.html",
    "library/textwrap.html",
    "library/secrets.html",
    "library/bisect.html",
    "library/heapq.html",
)
# Not a real fetch time: one fixed instant (the Python 3.11.2 release day) so that
# rebuilds are byte-identical.
WARC_DATE = "2023-02-08T00:00:00Z"

MANIFEST_NAME = "MANIFEST.sha256"
MANIFEST_DIRS = ("books", "web")  # data folders; SOURCES.md and the manifest itself are not data


def pages_dir(corpus: Path) -> Path:
    return corpus / "web" / "python-docs"


def page_url(relative: str) -> str:
    return DOCS_BASE_URL + relative


def record_id(name: str) -> str:
    """A WARC-Record-ID that depends only on `name` (a URL, or a label for warcinfo)."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}>"


def copy_books(sdist: Path, books_dir: Path) -> None:
    """Copies BOOKS from the brotli sdist (the .tar.gz or its unpacked folder) unchanged."""
    books_dir.mkdir(parents=True, exist_ok=True)
    if sdist.is_dir():
        for name in BOOKS:
            shutil.copyfile(sdist / BROTLI_TESTDATA / name, books_dir / name)
        return
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[-1]: m for m in tar.getmembers() if m.isfile()}
        for name in BOOKS:
            member = members.get(f"{BROTLI_TESTDATA}/{name}")
            if member is None:
                raise SystemExit(f"{sdist}: no {BROTLI_TESTDATA}/{name} inside")
            (books_dir / name).write_bytes(tar.extractfile(member).read())


def copy_pages(docs_html: Path, copyright_file: Path, target: Path) -> None:
    """Copies PAGES (keeping their relative paths) and the docs' copyright file unchanged."""
    for relative in PAGES:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(docs_html / relative, destination)
    shutil.copyfile(copyright_file, target / DOCS_LICENCE_NAME)


def build_warc(pages: Path, out: Path) -> None:
    """Writes WARC_PAGES from the folder `pages` to `out` as one warcinfo record followed
    by one HTTP 200 response record per page, each record its own gzip member."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = BytesIO()
    writer = WARCWriter(buffer, gzip=True)

    info = (
        b"software: textshards scripts/build_demo_corpus.py (warcio WARCWriter)\r\n"
        b"format: WARC File Format 1.0\r\n"
        b"description: Not a crawl. Pages of the Python 3.11 documentation as shipped in"
        b" the Debian package python3.11-doc, wrapped as HTTP responses under their"
        b" docs.python.org URLs, with a fixed WARC-Date.\r\n"
        b"license: Python Software Foundation License Version 2 (see LICENSE-PSF.txt)\r\n"
    )
    writer.write_record(
        writer.create_warc_record(
            "",
            "warcinfo",
            payload=BytesIO(info),
            length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={
                "WARC-Record-ID": record_id(f"warcinfo:{WARC_NAME}"),
                "WARC-Date": WARC_DATE,
                "WARC-Filename": WARC_NAME,
            },
        )
    )
    for relative in WARC_PAGES:
        body = (pages / relative).read_bytes()
        url = page_url(relative)
        http_headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        writer.write_record(
            writer.create_warc_record(
                url,
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=http_headers,
                warc_headers_dict={"WARC-Record-ID": record_id(url), "WARC-Date": WARC_DATE},
            )
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())


def data_files(corpus: Path) -> list[str]:
    """Relative POSIX paths of every file under the corpus's data folders, sorted."""
    return sorted(
        path.relative_to(corpus).as_posix()
        for folder in MANIFEST_DIRS
        for path in (corpus / folder).rglob("*")
        if path.is_file()
    )


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(corpus: Path) -> None:
    """Writes MANIFEST.sha256 in `sha256sum` format, so `sha256sum -c` can check it too."""
    lines = [f"{sha256_of(corpus / relative)}  {relative}\n" for relative in data_files(corpus)]
    (corpus / MANIFEST_NAME).write_text("".join(lines), encoding="utf-8", newline="\n")


def read_manifest(corpus: Path) -> dict[str, str]:
    """Relative path -> sha256 hex, from the corpus's MANIFEST.sha256."""
    entries = {}
    for line in (corpus / MANIFEST_NAME).read_text(encoding="utf-8").splitlines():
        digest, _, relative = line.partition("  ")
        entries[relative] = digest
    return entries


def refresh(args: argparse.Namespace) -> None:
    corpus: Path = args.corpus
    for folder in (corpus / "books", pages_dir(corpus)):
        shutil.rmtree(folder, ignore_errors=True)  # so pages dropped from PAGES do not linger
    copy_books(args.brotli_sdist, corpus / "books")
    copy_pages(args.docs_html, args.docs_copyright, pages_dir(corpus))
    build_warc(pages_dir(corpus), corpus / "web" / WARC_NAME)
    write_manifest(corpus)


def warc(args: argparse.Namespace) -> None:
    build_warc(pages_dir(args.corpus), args.out or args.corpus / "web" / WARC_NAME)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)

    refresh_parser = commands.add_parser("refresh", help="recopy books and pages, rebuild the WARC and the manifest")
    refresh_parser.add_argument(
        "--brotli-sdist", type=Path, required=True, help="Brotli-1.1.0.tar.gz or its unpacked folder"
    )
    refresh_parser.add_argument("--docs-html", type=Path, required=True, help="the html/ folder of python3.11-doc")
    refresh_parser.add_argument(
        "--docs-copyright",
        type=Path,
        default=DOCS_COPYRIGHT,
        help="the docs package's copyright file (default: %(default)s)",
    )
    refresh_parser.set_defaults(run=refresh)

    warc_parser = commands.add_parser("warc", help="rebuild only the WARC from the committed pages")
    warc_parser.add_argument("--out", type=Path, help=f"output path (default: CORPUS/web/{WARC_NAME})")
    warc_parser.set_defaults(run=warc)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
