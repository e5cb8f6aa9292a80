"""One quick reachability probe, so offline machines fail in seconds instead of hanging in a download."""
import socket
from urllib.parse import urlparse


def url_reachable(url: str, timeout: float = 3.0) -> bool:
    """Can a TCP connection to the URL's host and port be opened within ``timeout`` seconds?"""
    parsed = urlparse(url)
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False
