"""Where downloaded data lives, and a download that is atomic and verified.

The cache directory is, in order of precedence:

1. ``$REFVAE_DATA`` when set;
2. ``<repository>/data`` when refvae runs from a source checkout (the folder next to
   ``pyproject.toml``; git-ignored downloads sit beside ``data/README.md``);
3. ``~/.cache/refvae`` otherwise (an installed package must not write into site-packages).

A download goes to a temporary file in the cache directory and is renamed into place
only after its size (the server's ``Content-Length`` and, when known, the expected size)
and its digest (sha256 or sha1, when recorded) have been checked, so an interrupted or corrupted download
never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import urllib.response

__all__ = ["DownloadError", "data_dir", "digest_of", "download", "fetch", "sha256_of"]

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file could not be downloaded (offline, HTTP error) or failed verification."""


def data_dir(create: bool = True) -> str:
    """The cache directory for downloaded data sets (see the module docstring).

    Args:
        create: create the directory when it does not exist.

    Returns:
        Absolute path (str).
    """
    override = os.environ.get("REFVAE_DATA")
    if override:
        directory = os.path.abspath(os.path.expanduser(override))
    else:
        repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if os.path.isfile(os.path.join(repository, "pyproject.toml")):
            directory = os.path.join(repository, "data")
        else:
            directory = os.path.join(os.path.expanduser("~"), ".cache", "refvae")
    if create:
        os.makedirs(directory, exist_ok=True)
    return directory


def digest_of(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest (``hashlib`` algorithm name) of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 digest of a file."""
    return digest_of(path, "sha256")


def _expected_digests(sha256: str | None, sha1: str | None) -> dict[str, str]:
    return {name: value.lower() for name, value in (("sha256", sha256), ("sha1", sha1)) if value is not None}


def _open_url(url: str, timeout: float) -> http.client.HTTPResponse | urllib.response.addinfourl:
    """Opens ``url`` for reading (a seam that tests replace to stay offline)."""
    return urllib.request.urlopen(url, timeout=timeout)


def download(url: str, destination: str | os.PathLike[str], expected_size: int | None = None, sha256: str | None = None,
             progress: bool = True, timeout: float = 60, sha1: str | None = None) -> str:
    """Downloads ``url`` to ``destination`` atomically, with a progress bar and checks.

    Args:
        url: http(s) or file URL.
        destination: final path; its directory is created if needed.
        expected_size: size in bytes the file must have (optional).
        sha256: hex digest the file must have (optional).
        progress: show a ``tqdm`` progress bar.
        timeout: seconds before a stalled connection fails.
        sha1: hex sha1 digest the file must have (optional; for files published with one).

    Returns:
        ``destination``.

    Raises:
        DownloadError: the URL cannot be reached, or the bytes received do not have the
            announced size, the expected size or the expected digests. Nothing is left at
            ``destination`` in that case.
    """
    destination = os.fspath(destination)
    directory = os.path.dirname(os.path.abspath(destination))
    os.makedirs(directory, exist_ok=True)
    try:
        response = _open_url(url, timeout)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DownloadError(f"could not download {url}: {error}") from error
    descriptor, temporary = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(destination) + ".", suffix=".part")
    try:
        with response, os.fdopen(descriptor, "wb") as out:
            length = response.headers.get("Content-Length") if response.headers else None
            announced = int(length) if length else None
            expected = _expected_digests(sha256, sha1)
            digests = {name: hashlib.new(name) for name in expected}
            received = 0
            bar = None
            if progress:
                from tqdm.auto import tqdm
                bar = tqdm(total=announced, unit="B", unit_scale=True,
                           desc=os.path.basename(destination))
            try:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    for digest in digests.values():
                        digest.update(block)
                    received += len(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
        for name, size in (("announced", announced), ("expected", expected_size)):
            if size is not None and received != size:
                raise DownloadError(f"download of {url} is incomplete: received {received} "
                                    f"bytes, {name} size {size}")
        for name, digest in digests.items():
            if digest.hexdigest() != expected[name]:
                raise DownloadError(f"download of {url} has {name} {digest.hexdigest()}, "
                                    f"expected {expected[name]}")
        os.replace(temporary, destination)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, (OSError, http.client.HTTPException)):
            raise DownloadError(f"could not download {url}: {error}") from error
        raise
    return destination


def fetch(url: str, filename: str, sha256: str | None = None, expected_size: int | None = None, download: bool = True,
          progress: bool = True, offline_hint: str | None = None, sha1: str | None = None) -> str:
    """Returns the cached path of ``filename``, downloading it from ``url`` the first time.

    A cached file whose digest is recorded is checked every time it is fetched.

    Args:
        url: where to download from.
        filename: name of the file in :func:`data_dir`.
        sha256: recorded hex digest (optional).
        expected_size: recorded size in bytes (optional).
        download: allow downloading; when False a missing file raises.
        progress: show a progress bar.
        offline_hint: sentence naming an offline alternative, added to errors.
        sha1: recorded hex sha1 digest (optional).

    Raises:
        DownloadError: missing and not downloadable (the message says where to put the file
            by hand and, with ``offline_hint``, what works offline), or a cached file whose
            digest differs from the recorded one (the message names the file).
    """
    path = os.path.join(data_dir(), filename)
    hint = f" Offline alternative: {offline_hint}." if offline_hint else ""
    if os.path.isfile(path):
        for name, value in _expected_digests(sha256, sha1).items():
            found = digest_of(path, name)
            if found != value:
                raise DownloadError(f"{path} has {name} {found}, not the recorded {value}: it is damaged or "
                                    "not the published file; delete it to download it again." + hint)
        return path
    if not download:
        raise DownloadError(f"{filename} is not in the cache {data_dir()} and download=False. "
                            f"Download {url} there by hand (or set REFVAE_DATA)." + hint)
    try:
        return _download(url, path, expected_size=expected_size, sha256=sha256,
                         progress=progress, sha1=sha1)
    except DownloadError as error:
        raise DownloadError(f"{error}. Put the file at {path} by hand, or use the "
                            "offline alternative." + hint) from error


_download = download
