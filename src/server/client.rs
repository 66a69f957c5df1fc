//! The address a request came from, as loket trusts it.
//!
//! Behind a TLS proxy every connection comes from the proxy, so the socket
//! peer alone would put one address in every access-log entry (NEN 7513 asks
//! from where) and give every user one shared login rate limit. The proxy
//! says whom it forwards for in `X-Forwarded-For`, but anyone can send that
//! header: it is believed only from the proxies named in
//! `[limits] trusted_proxies`, and read from the right, where each trusted
//! proxy appended the address it saw, to the first address that is not one
//! of them. What a client wrote itself further left is never reached.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The client's address (see the module docs), put on every request by the
/// server loop ([`super::limits::serve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client behind `peer`: `peer` itself unless it is a trusted proxy;
/// then the right-most `X-Forwarded-For` hop that is not one. A hop that
/// does not parse ends the walk at the last trusted address, so garbage
/// never becomes an address.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    if !trusted.contains(&peer) {
        return client;
    }
    // Several headers are one list in order; the proxy nearest to loket
    // appended last.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = ip;
        if !trusted.contains(&ip) {
            return ip;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(resolve(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        assert_eq!(
            resolve(ip("198.51.100.1"), &h, &[ip("127.0.0.1")]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        // The client forged a first entry; the proxies appended the rest.
        let h = headers(&["1.2.3.4, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        let h = headers(&["2001:db8::7"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("2001:db8::7"));
    }

    #[test]
    fn garbage_or_no_header_stops_at_the_proxy() {
        let trusted = [ip("127.0.0.1")];
        assert_eq!(
            resolve(ip("127.0.0.1"), &headers(&[]), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            resolve(
                ip("127.0.0.1"),
                &headers(&["203.0.113.9, unknown"]),
                &trusted
            ),
            ip("127.0.0.1")
        );
    }
}
