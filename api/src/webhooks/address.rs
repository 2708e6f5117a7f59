//! Where deliveries may go: no private, loopback, link-local, shared or metadata address
//! (server-side request forgery), unless the server is configured to allow them.
//!
//! Host names are resolved by [`Resolver`], which hands the HTTP client only the addresses
//! that pass [`check`]: the address connected to is the address checked, so a name that
//! resolves differently between check and use (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

/// The address a URL's host is, when it is an address literal.
pub fn literal(host: &Host<&str>) -> Option<IpAddr> {
    match host {
        Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        Host::Domain(_) => None,
    }
}

/// Whether `host` is a loopback host: `localhost` (and its subdomains), or a loopback
/// address.
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Refuses an address that deliveries may not go to (unless `allow_private`), saying which
/// kind it is.
pub fn check(ip: IpAddr, allow_private: bool) -> Result<(), String> {
    match forbidden_kind(ip) {
        Some(kind) if !allow_private => Err(format!(
            "{ip} is a {kind} address: webhooks may not be sent there"
        )),
        _ => Ok(()),
    }
}

/// What kind of non-public address `ip` is, if it is one.
fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(v6),
        },
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        // 169.254.0.0/16, where cloud metadata services answer (169.254.169.254).
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("protocol-assignment")
    } else if a == 198 && (18..20).contains(&b) {
        Some("benchmarking")
    } else if ip.is_documentation() {
        Some("documentation")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        // fc00::/7, unique local; AWS's metadata service also answers at fd00:ec2::254.
        Some("private")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("documentation")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // 64:ff9b::/96 translates to IPv4: judge the address it stands for.
        let [.., c, d] = ip.segments();
        let v4 = Ipv4Addr::from((u32::from(c) << 16) | u32::from(d));
        v4_kind(v4)
    } else {
        None
    }
}

/// Keeps the addresses that pass [`check`]; refuses when none does.
pub fn allowed(
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, String> {
    let mut refused = None;
    let kept: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|addr| match check(addr.ip(), allow_private) {
            Ok(()) => true,
            Err(why) => {
                refused.get_or_insert(why);
                false
            }
        })
        .collect();
    match (kept.is_empty(), refused) {
        (false, _) => Ok(kept),
        (true, Some(why)) => Err(format!("{host} resolves only to refused addresses ({why})")),
        (true, None) => Err(format!("{host} resolves to no address")),
    }
}

/// The HTTP client's resolver for deliveries: the system's, filtered by [`allowed`].
#[derive(Debug, Clone, Copy)]
pub struct Resolver {
    /// Whether private addresses pass.
    pub allow_private: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let kept = allowed(&host, found, allow_private)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_private_and_loopback_addresses_are_refused() {
        for (ip, kind) in [
            ("169.254.169.254", "link-local"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("127.0.0.1", "loopback"),
            ("100.64.0.1", "shared"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("fd00:ec2::254", "private"),
            ("fe80::1", "link-local"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
        ] {
            let err = check(ip.parse().unwrap(), false).unwrap_err();
            assert!(err.contains(kind), "{ip}: {err}");
            assert!(check(ip.parse().unwrap(), true).is_ok());
        }
        for public in [
            "93.184.215.14",
            "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
            "1.1.1.1",
        ] {
            assert!(check(public.parse().unwrap(), false).is_ok(), "{public}");
        }
    }

    #[test]
    fn a_name_resolving_to_a_forbidden_address_is_refused_and_only_good_ones_are_kept() {
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 443);
        let err = allowed("evil.example", [at("10.0.0.1")], false).unwrap_err();
        assert!(err.contains("evil.example"), "{err}");
        assert!(err.contains("10.0.0.1 is a private address"), "{err}");
        let kept = allowed(
            "mixed.example",
            [at("169.254.169.254"), at("1.1.1.1")],
            false,
        );
        assert_eq!(kept.unwrap(), vec![at("1.1.1.1")]);
        assert!(allowed("nothing.example", [], false).is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_localhost_unless_private_addresses_are_allowed() {
        let name = || "localhost".parse::<Name>().unwrap();
        let refused = Resolver {
            allow_private: false,
        }
        .resolve(name())
        .await;
        let err = refused.err().expect("localhost is refused").to_string();
        assert!(err.contains("loopback"), "{err}");
        let addrs: Vec<SocketAddr> = Resolver {
            allow_private: true,
        }
        .resolve(name())
        .await
        .unwrap()
        .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
