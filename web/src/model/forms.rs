//! The actions panel's model. [`FormAction`] is what a form asks for; [`FormAction::into_actions`]
//! turns it into script actions against the lab, naming each new app, site, hypervisor and host
//! uniquely in its own kind, and refusing with the reason an action that would change nothing
//! (restore a healthy hypervisor, fail a failed one, ping from a host that is down). The
//! choices a form shows before the user picks are worked out here ([`Choices`]), and they are
//! exactly what it sends. The number boxes are read strictly ([`parse_mtu`], [`parse_rate`]):
//! a box that does not hold a valid number is refused with the reason, never replaced by
//! another number.

use vtep_core::vtep::{Encapsulation, VtepConfig};
use vtep_sim::LearningMode;

use super::lab::Lab;
use super::script::Action;

/// What the user asked for in the actions panel, before it becomes script actions.
#[derive(Clone, Debug, PartialEq)]
pub enum FormAction {
    /// `what`: "ping", "ping6" (to the host's IPv6 address), "arping" or "tcp".
    Traffic {
        what: String,
        from: String,
        to: String,
    },
    Migrate {
        host: String,
        to: String,
    },
    Hypervisor {
        name: String,
        fail: bool,
    },
    Uplink {
        name: String,
        fail: bool,
    },
    AddSite,
    AddHypervisor {
        site: String,
    },
    AddHost {
        hypervisor: String,
        vni: u32,
    },
    AddTenant,
    /// A route reflector in `site` (BGP EVPN).
    AddReflector {
        site: String,
    },
    Reflector {
        name: String,
        fail: bool,
    },
    Learning(LearningMode),
    Encap {
        vni: u32,
        encap: Encapsulation,
    },
    UnderlayMtu(u16),
    RateLimit {
        vni: u32,
        mbps: Option<f64>,
    },
}

/// A host as the forms offer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostChoice {
    pub name: String,
    pub vni: u32,
    /// The hypervisor it runs on (none while it migrates).
    pub hypervisor: Option<String>,
}

/// What the forms can offer: the lab's hosts, hypervisors, sites, VNIs, and what is current
/// (the learning mode, each VNI's encapsulation).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Choices {
    pub hosts: Vec<HostChoice>,
    pub hypervisors: Vec<String>,
    /// The BGP route reflectors.
    pub reflectors: Vec<String>,
    pub sites: Vec<String>,
    /// Every VNI in use, with its encapsulation now.
    pub vnis: Vec<(u32, Encapsulation)>,
    pub learning: LearningMode,
}

/// The user's pick if it is still offered, else `default`.
pub fn chosen(picked: &str, offered: &[String], default: &str) -> String {
    if offered.iter().any(|o| o == picked) {
        picked.to_string()
    } else {
        default.to_string()
    }
}

impl Choices {
    pub fn new(lab: &Lab) -> Choices {
        let sim = lab.sim();
        let hosts = sim
            .hosts()
            .into_iter()
            .filter_map(|h| {
                let (_, _, vni) = sim.host_addr(h).ok()?;
                Some(HostChoice {
                    name: lab.name(h),
                    vni: vni.get(),
                    hypervisor: sim.host_hypervisor(h).ok().flatten().map(|v| lab.name(v)),
                })
            })
            .collect::<Vec<_>>();
        let mut vnis: Vec<u32> = hosts.iter().map(|h| h.vni).collect();
        vnis.sort_unstable();
        vnis.dedup();
        Choices {
            hypervisors: sim.hypervisors().into_iter().map(|h| lab.name(h)).collect(),
            reflectors: sim.reflectors().iter().map(|r| lab.name(*r)).collect(),
            sites: lab.site_names(),
            vnis: vnis
                .into_iter()
                .map(|v| {
                    let e = sim.vni_settings(v).map(|s| s.encapsulation);
                    (v, e.unwrap_or_default())
                })
                .collect(),
            learning: sim.learning_mode(),
            hosts,
        }
    }

    pub fn host_names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    pub fn vni_names(&self) -> Vec<String> {
        self.vnis.iter().map(|(v, _)| v.to_string()).collect()
    }

    /// The sender shown first: the first host.
    pub fn default_from(&self) -> String {
        self.hosts
            .first()
            .map(|h| h.name.clone())
            .unwrap_or_default()
    }

    /// The receiver shown for sender `from`: the first other host of its VNI (a ping that can
    /// be answered), else the first other host.
    pub fn default_to(&self, from: &str) -> String {
        let vni = self.hosts.iter().find(|h| h.name == from).map(|h| h.vni);
        let others = || self.hosts.iter().filter(|h| h.name != from);
        others()
            .find(|h| Some(h.vni) == vni)
            .or_else(|| others().next())
            .map(|h| h.name.clone())
            .unwrap_or_default()
    }

    /// The destination shown for migrating `host`: the first hypervisor it is not on.
    pub fn default_migrate_to(&self, host: &str) -> String {
        let on = self
            .hosts
            .iter()
            .find(|h| h.name == host)
            .and_then(|h| h.hypervisor.clone());
        self.hypervisors
            .iter()
            .find(|v| Some(*v) != on.as_ref())
            .or_else(|| self.hypervisors.first())
            .cloned()
            .unwrap_or_default()
    }

    /// The encapsulation VNI `vni` uses now.
    pub fn encap_of(&self, vni: u32) -> Encapsulation {
        self.vnis
            .iter()
            .find(|(v, _)| *v == vni)
            .map(|(_, e)| *e)
            .unwrap_or_default()
    }
}

/// The encapsulations by their form names.
pub const ENCAPSULATIONS: [(&str, Encapsulation); 3] = [
    ("vxlan", Encapsulation::Vxlan),
    ("geneve", Encapsulation::Geneve),
    ("nvgre", Encapsulation::Nvgre),
];

/// The form name of `e` ("vxlan").
pub fn encap_name(e: Encapsulation) -> &'static str {
    ENCAPSULATIONS
        .iter()
        .find(|(_, x)| *x == e)
        .map_or("vxlan", |(n, _)| n)
}

/// The largest underlay MTU the form accepts (jumbo frames).
pub const MAX_MTU: u16 = 9216;

/// The underlay MTU typed in a box: a whole number of bytes, from what the encapsulation
/// needs to [`MAX_MTU`]; spaces around it are fine. `Err` says what is wrong.
pub fn parse_mtu(text: &str) -> Result<u16, String> {
    let min = VtepConfig::min_underlay_mtu(false);
    let t = text.trim();
    if t.is_empty() {
        return Err(format!(
            "type the underlay MTU in bytes, {min} to {MAX_MTU}"
        ));
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{t:?} is not a whole number of bytes"));
    }
    match t.parse::<u32>() {
        Ok(v) if (min as u32..=u32::from(MAX_MTU)).contains(&v) => Ok(v as u16),
        Ok(v) if v < min as u32 => Err(format!(
            "{v} bytes cannot carry a tunnel: at least {min} (outer headers plus a minimal frame)"
        )),
        _ => Err(format!(
            "{t} is over {MAX_MTU} bytes, the largest (jumbo) frames"
        )),
    }
}

/// The largest rate limit the form accepts, Mbit/s.
pub const MAX_RATE_MBPS: f64 = 100_000.0;

/// A rate limit typed in a box: Mbit/s, a decimal number above 0 and at most
/// [`MAX_RATE_MBPS`]. `Err` says what is wrong.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("type a rate in Mbit/s, e.g. 1 or 0.5".to_string());
    }
    let plain = t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && t.matches('.').count() <= 1;
    match t.parse::<f64>() {
        Ok(v) if plain && v > 0.0 && v <= MAX_RATE_MBPS => Ok(v),
        Ok(v) if plain && v <= 0.0 => Err("a rate limit must be above 0 Mbit/s".to_string()),
        Ok(_) if plain => Err(format!("at most {MAX_RATE_MBPS} Mbit/s (100 Gbit/s)")),
        _ => Err(format!("{t:?} is not a number of Mbit/s (e.g. 1 or 0.5)")),
    }
}

/// Every name the script gives an app, a site or a node, and the lab's nodes.
fn taken(lab: &Lab, name: &str) -> bool {
    lab.node(name).is_some()
        || lab.sim().site_id(name).is_ok()
        || lab.app(name).is_some()
        || lab.script().actions.iter().any(|t| match &t.action {
            Action::Site { name: n }
            | Action::Hypervisor { name: n, .. }
            | Action::Host { name: n, .. }
            | Action::Ping { app: n, .. }
            | Action::Ping6 { app: n, .. }
            | Action::UdpFlow { app: n, .. }
            | Action::Tcp { app: n, .. } => n == name,
            _ => false,
        })
}

/// `prefix1`, `prefix2`, ...: the first name no app, site or node has.
pub fn unique(lab: &Lab, prefix: &str) -> String {
    unique_n(lab, prefix, 1).pop().unwrap_or_default()
}

/// The first `n` names `prefix1`, `prefix2`, ... that no app, site or node has.
fn unique_n(lab: &Lab, prefix: &str, n: usize) -> Vec<String> {
    (1..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|name| !taken(lab, name))
        .take(n)
        .collect()
}

fn free_ip(lab: &Lab, vni: u32) -> [u8; 4] {
    let sim = lab.sim();
    let used: Vec<[u8; 4]> = sim
        .hosts()
        .into_iter()
        .filter_map(|h| sim.host_addr(h).ok())
        .filter(|a| a.2.get() == vni)
        .map(|a| a.1.octets())
        .collect();
    let net =
        used.first()
            .map(|o| [o[0], o[1], o[2]])
            .unwrap_or([10, ((vni / 100) % 250) as u8, 0]);
    let last = (1..=250u8)
        .find(|x| !used.contains(&[net[0], net[1], net[2], *x]))
        .unwrap_or(250);
    [net[0], net[1], net[2], last]
}

/// Whether node `name` is up (a failed hypervisor and its hosts are not).
fn up(lab: &Lab, name: &str) -> bool {
    lab.node(name)
        .and_then(|n| lab.sim().node_info(n).ok())
        .is_some_and(|i| i.up)
}

/// `fail` (true: fail, false: restore) for the node `name`, refused with the reason when it
/// would change nothing: failing what is failed, restoring what is up.
fn fail_or_restore(lab: &Lab, name: &str, fail: bool) -> Result<bool, String> {
    match (fail, up(lab, name)) {
        (true, false) => Err(format!("{name} is already failed")),
        (false, true) => Err(format!("{name} is not failed: there is nothing to restore")),
        (fail, _) => Ok(fail),
    }
}

impl FormAction {
    /// The script actions this asks for, resolved against the lab; `Err` says why it is
    /// refused (unknown names, or an action that would change nothing).
    pub fn into_actions(self, lab: &Lab) -> Result<Vec<Action>, String> {
        let sim = lab.sim();
        let need = |n: &str| lab.node(n).ok_or_else(|| format!("no node named {n:?}"));
        let hv_of = |host| sim.host_hypervisor(host).ok().flatten();
        Ok(match self {
            FormAction::Traffic { what, from, to } => {
                let src = need(&from)?;
                let dst = need(&to)?;
                if src == dst {
                    return Err(format!("{from} would send to itself: pick another host"));
                }
                match hv_of(src) {
                    None => return Err(format!("{from} is migrating: wait until it resumes")),
                    Some(hv) if !up(lab, &lab.name(hv)) => {
                        let hv = lab.name(hv);
                        return Err(format!(
                            "{from} runs on {hv}, which is failed: restore {hv} first"
                        ));
                    }
                    Some(_) => {}
                }
                let ip = sim.host_addr(dst).map_err(|e| e.to_string())?.1.octets();
                let app = unique(lab, &format!("{what}-{from}-"));
                vec![match what.as_str() {
                    "arping" => Action::Arping { from, to: ip },
                    "tcp" => Action::Tcp {
                        app,
                        from,
                        to,
                        bytes: 100_000,
                        ipv6: false,
                    },
                    "ping6" => Action::Ping6 {
                        app,
                        from,
                        to: sim.host_ipv6(dst).map_err(|e| e.to_string())?,
                        count: 5,
                        interval_ms: 20,
                        size: 56,
                    },
                    _ => Action::Ping {
                        app,
                        from,
                        to: ip,
                        count: 5,
                        interval_ms: 20,
                        size: 56,
                    },
                }]
            }
            FormAction::Migrate { host, to } => vec![Action::Migrate { host, to }],
            FormAction::Hypervisor { name, fail } => {
                need(&name)?;
                if fail_or_restore(lab, &name, fail)? {
                    vec![Action::FailHypervisor { name }]
                } else {
                    vec![Action::RestoreHypervisor { name }]
                }
            }
            FormAction::Uplink { name, fail } => {
                let hv = need(&name)?;
                let site = sim.node_info(hv).map_err(|e| e.to_string())?.site;
                let core = sim.site_core(site).map_err(|e| e.to_string())?;
                let link_up = sim
                    .links()
                    .iter()
                    .find(|l| l.ends == [hv, core] || l.ends == [core, hv])
                    .map(|l| l.up);
                let b = lab.name(core);
                match (fail, link_up) {
                    (_, None) => return Err(format!("{name} has no uplink to {b}")),
                    (true, Some(false)) => {
                        return Err(format!("{name}'s uplink to {b} is already cut"));
                    }
                    (false, Some(true)) => {
                        return Err(format!("{name}'s uplink to {b} is not cut: nothing to fix"));
                    }
                    (true, _) => vec![Action::FailLink { a: name, b }],
                    (false, _) => vec![Action::RestoreLink { a: name, b }],
                }
            }
            FormAction::AddSite => {
                let name = unique(lab, "dc");
                let first = lab.site_names().into_iter().next();
                let mut v = vec![Action::Site { name: name.clone() }];
                if let Some(first) = first {
                    v.push(Action::ConnectSites {
                        a: first,
                        b: name.clone(),
                        latency_us: 2000,
                    });
                }
                v.push(Action::Hypervisor {
                    site: name,
                    name: unique(lab, "hv"),
                });
                v
            }
            FormAction::AddHypervisor { site } => vec![Action::Hypervisor {
                site,
                name: unique(lab, "hv"),
            }],
            FormAction::AddReflector { site } => vec![Action::Reflector {
                site,
                name: unique(lab, "rr"),
            }],
            FormAction::Reflector { name, fail } => {
                let rr = need(&name)?;
                if !sim.reflectors().contains(&rr) {
                    return Err(format!("{name} is not a route reflector"));
                }
                if fail_or_restore(lab, &name, fail)? {
                    vec![Action::FailReflector { name }]
                } else {
                    vec![Action::RestoreReflector { name }]
                }
            }
            FormAction::AddHost { hypervisor, vni } => {
                need(&hypervisor)?;
                if !up(lab, &hypervisor) {
                    return Err(format!(
                        "{hypervisor} is failed: restore it before adding hosts"
                    ));
                }
                vec![Action::Host {
                    name: unique(lab, &format!("vm{vni}-")),
                    hypervisor,
                    vni,
                    ip: free_ip(lab, vni),
                    mac: None,
                }]
            }
            FormAction::AddTenant => {
                let vnis: Vec<u32> = sim
                    .hosts()
                    .into_iter()
                    .filter_map(|h| sim.host_addr(h).ok().map(|a| a.2.get()))
                    .collect();
                let vni = vnis.iter().max().map_or(100, |v| v + 100);
                let hvs: Vec<String> = sim
                    .hypervisors()
                    .into_iter()
                    .map(|h| lab.name(h))
                    .filter(|h| up(lab, h))
                    .collect();
                if hvs.is_empty() {
                    return Err("add (or restore) a hypervisor first".into());
                }
                let net = [10, ((vni / 100) % 250) as u8, 0];
                unique_n(lab, &format!("t{vni}-"), 2)
                    .into_iter()
                    .enumerate()
                    .map(|(i, name)| Action::Host {
                        name,
                        hypervisor: hvs[(i * hvs.len().div_ceil(2)) % hvs.len()].clone(),
                        vni,
                        ip: [net[0], net[1], net[2], i as u8 + 1],
                        mac: None,
                    })
                    .collect()
            }
            FormAction::Learning(mode) => {
                if sim.learning_mode() == mode {
                    return Err(format!("the learning mode is already {mode}"));
                }
                vec![Action::LearningMode { mode }]
            }
            FormAction::Encap { vni, encap } => {
                let now = sim.vni_settings(vni).map_err(|e| e.to_string())?;
                if now.encapsulation == encap {
                    return Err(format!("VNI {vni} already uses {encap}"));
                }
                vec![Action::Encapsulation {
                    vni,
                    encapsulation: encap,
                }]
            }
            FormAction::UnderlayMtu(mtu) => vec![Action::UnderlayMtu { mtu }],
            FormAction::RateLimit { vni, mbps } => {
                let now = sim.vni_settings(vni).map_err(|e| e.to_string())?;
                if mbps.is_none() && now.rate_limit.is_none() {
                    return Err(format!("VNI {vni} has no rate limit to remove"));
                }
                vec![Action::RateLimit {
                    vni,
                    bits_per_sec: mbps.map(|m| (m * 1e6) as u64),
                }]
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::script::Script;

    #[test]
    fn numbers_are_read_strictly() {
        assert_eq!(parse_mtu(" 1400 "), Ok(1400));
        assert_eq!(parse_mtu("1550"), Ok(1550));
        for bad in ["abc", "", "1e3", "99999", "12", "-1", "1400.5", "0x600"] {
            let e = parse_mtu(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad:?}");
        }
        assert!(parse_mtu("12").unwrap_err().contains("at least"));
        assert!(parse_mtu("99999").unwrap_err().contains("9216"));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert_eq!(parse_rate(" 10 "), Ok(10.0));
        for bad in ["abc", "", "0", "-1", "1e3", "inf", "NaN", "1.2.3", "200000"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_forms_offer_what_can_work() {
        let lab = Lab::new(Script::sandbox());
        let c = Choices::new(&lab);
        assert_eq!(c.default_from(), "red-1");
        assert_eq!(c.default_to("red-1"), "red-2", "same tenant, not itself");
        assert_eq!(c.default_to("blue-1"), "blue-2");
        assert_eq!(c.default_migrate_to("red-1"), "hv2", "not where it runs");
        assert_eq!(c.default_migrate_to("red-2"), "hv1");
        assert_eq!(c.encap_of(200), Encapsulation::Vxlan);
        assert_eq!(chosen("red-3", &c.host_names(), "red-2"), "red-3");
        assert_eq!(chosen("gone", &c.host_names(), "red-2"), "red-2");
    }

    #[test]
    fn new_names_are_unique_in_their_kind() {
        let mut lab = Lab::new(Script::sandbox());
        let ping = || FormAction::Traffic {
            what: "ping".into(),
            from: "red-1".into(),
            to: "red-3".into(),
        };
        let mut apps = Vec::new();
        for _ in 0..3 {
            for a in ping().into_actions(&lab).unwrap() {
                if let Action::Ping { app, .. } = &a {
                    apps.push(app.clone());
                }
                lab.act(a).unwrap();
            }
        }
        assert_eq!(apps, ["ping-red-1-1", "ping-red-1-2", "ping-red-1-3"]);
        // ping6 goes to the host the form shows, at its IPv6 address, named in its own kind.
        let ping6 = FormAction::Traffic {
            what: "ping6".into(),
            from: "red-1".into(),
            to: "red-3".into(),
        };
        let sent = ping6.into_actions(&lab).unwrap();
        let red3 = lab.sim().host_ipv6(lab.node("red-3").unwrap()).unwrap();
        assert_eq!(red3.to_string(), "fd00:a00::4");
        assert_eq!(
            sent,
            [Action::Ping6 {
                app: "ping6-red-1-1".into(),
                from: "red-1".into(),
                to: red3,
                count: 5,
                interval_ms: 20,
                size: 56,
            }]
        );
        // A site is named after the sites (dc1, dc2 exist), with a hypervisor in it.
        let site = FormAction::AddSite.into_actions(&lab).unwrap();
        assert_eq!(site[0], Action::Site { name: "dc3".into() });
        assert!(
            matches!(&site[2], Action::Hypervisor { site, name } if site == "dc3" && name == "hv5")
        );
        for a in site {
            lab.act(a).unwrap();
        }
        let tenant = FormAction::AddTenant.into_actions(&lab).unwrap();
        let names: Vec<&str> = tenant
            .iter()
            .filter_map(|a| match a {
                Action::Host { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["t300-1", "t300-2"]);
    }

    #[test]
    fn actions_that_change_nothing_are_refused() {
        let mut lab = Lab::new(Script::sandbox());
        let hv = |fail| FormAction::Hypervisor {
            name: "hv1".into(),
            fail,
        };
        assert!(
            hv(false)
                .into_actions(&lab)
                .unwrap_err()
                .contains("not failed")
        );
        for a in hv(true).into_actions(&lab).unwrap() {
            lab.act(a).unwrap();
        }
        assert!(
            hv(true)
                .into_actions(&lab)
                .unwrap_err()
                .contains("already failed")
        );
        let ping = FormAction::Traffic {
            what: "ping".into(),
            from: "red-1".into(),
            to: "red-2".into(),
        };
        let e = ping.into_actions(&lab).unwrap_err();
        assert!(e.contains("hv1") && e.contains("failed"), "{e}");
        let e = FormAction::Learning(LearningMode::FloodAndLearn)
            .into_actions(&lab)
            .unwrap_err();
        assert_eq!(e, "the learning mode is already flood and learn");
        let e = FormAction::Encap {
            vni: 100,
            encap: Encapsulation::Vxlan,
        }
        .into_actions(&lab)
        .unwrap_err();
        assert_eq!(e, "VNI 100 already uses VXLAN");
        let up = FormAction::Uplink {
            name: "hv2".into(),
            fail: false,
        };
        assert!(up.into_actions(&lab).unwrap_err().contains("not cut"));
    }
}
