"""The client's address as the product decides it (login rate limit per IP), never as the client claims it.

The socket peer is the client, unless the peer is one of `LEADFLOW_TRUSTED_PROXIES`: then the proxy appended the
address it saw to `X-Forwarded-For`, and the walk goes on leftwards from the right-most entry until it reaches an
address that is not a trusted proxy. Entries left of that one came from the client and are never read, so sending
a fresh `X-Forwarded-For` with every request changes nothing.
"""

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.requests import Request

ProxyNetworks = Sequence[IPv4Network | IPv6Network]


def _is_trusted(address: str, proxies: ProxyNetworks) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: Request, proxies: ProxyNetworks) -> str:
    """The right-most address on the path peer → X-Forwarded-For that is not a trusted proxy."""
    address = request.client.host if request.client else "unknown"
    forwarded = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    while forwarded and _is_trusted(address, proxies):
        hop = forwarded.pop()
        try:
            address = str(ip_address(hop))
        except ValueError:
            # A trusted proxy never appends garbage: what is left of it is the client's, so count the proxy.
            return address
    return address
