//! The 24-bit virtual network identifier, and the ID-space arithmetic of the seed's claim S6.

use core::fmt;

/// A VXLAN network identifier (VNI), also Geneve's VNI and NVGRE's virtual subnet ID (VSID):
/// 24 bits, so `0..=16_777_215`.
///
/// Construct it with [`Vni::new`], which rejects values that do not fit: a `Vni` is always a
/// valid wire value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Vni(u32);

/// A VNI outside `0..=16_777_215`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VniOutOfRange(pub u64);

impl fmt::Display for VniOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VNI {} is out of range: a VNI has 24 bits, so it must be 0..={}",
            self.0,
            Vni::MAX.get()
        )
    }
}

impl core::error::Error for VniOutOfRange {}

impl Vni {
    /// Bits in a VNI (RFC 7348 section 5).
    pub const BITS: u32 = 24;
    /// The largest VNI, `2^24 - 1`.
    pub const MAX: Vni = Vni((1 << Self::BITS) - 1);
    /// How many distinct VNIs exist: 16,777,216.
    pub const COUNT: u32 = 1 << Self::BITS;

    /// A VNI, if `value` fits in 24 bits.
    pub const fn new(value: u32) -> Result<Vni, VniOutOfRange> {
        if value <= Self::MAX.0 {
            Ok(Vni(value))
        } else {
            Err(VniOutOfRange(value as u64))
        }
    }

    /// The low 24 bits of `value`; for decoding wire fields that are already 24 bits wide.
    pub const fn from_u24_truncating(value: u32) -> Vni {
        Vni(value & Self::MAX.0)
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The three bytes of the VNI in network order, as they appear on the wire.
    pub const fn to_be_bytes(self) -> [u8; 3] {
        let b = self.0.to_be_bytes();
        [b[1], b[2], b[3]]
    }

    /// The VNI from three bytes in network order.
    pub const fn from_be_bytes(bytes: [u8; 3]) -> Vni {
        Vni(u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]))
    }
}

impl TryFrom<u32> for Vni {
    type Error = VniOutOfRange;
    fn try_from(value: u32) -> Result<Vni, VniOutOfRange> {
        Vni::new(value)
    }
}

impl TryFrom<u64> for Vni {
    type Error = VniOutOfRange;
    fn try_from(value: u64) -> Result<Vni, VniOutOfRange> {
        u32::try_from(value)
            .ok()
            .and_then(|v| Vni::new(v).ok())
            .ok_or(VniOutOfRange(value))
    }
}

impl From<Vni> for u32 {
    fn from(vni: Vni) -> u32 {
        vni.0
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The ID-space arithmetic behind claim S6: how many isolated layer-2 networks each scheme can
/// name. More IDs are sufficient for isolation at scale, not necessary: stacked VLAN tags
/// (802.1ad QinQ) reach 24 bits too, but only inside one switched domain.
pub mod id_space {
    use super::Vni;

    /// Bits in an 802.1Q VLAN ID.
    pub const VLAN_ID_BITS: u32 = 12;
    /// 802.1Q VLAN IDs: 4096 values.
    pub const VLAN_IDS: u32 = 1 << VLAN_ID_BITS;
    /// VLAN IDs usable for networks: 0 (priority tag) and 4095 are reserved, leaving 4094.
    pub const VLAN_IDS_USABLE: u32 = VLAN_IDS - 2;
    /// Two stacked tags (service tag + customer tag): 12 + 12 bits.
    pub const QINQ_ID_BITS: u32 = 2 * VLAN_ID_BITS;
    /// QinQ combinations: 4096 x 4096 = 16,777,216, the same as VXLAN's VNI space.
    pub const QINQ_IDS: u32 = VLAN_IDS * VLAN_IDS;
    /// VXLAN / Geneve VNIs and NVGRE VSIDs: 16,777,216.
    pub const VNI_IDS: u32 = Vni::COUNT;
    /// How many times more networks a VNI can name than a single VLAN tag: 4096.
    pub const VNI_PER_VLAN: u32 = VNI_IDS / VLAN_IDS;

    const _: () = assert!(QINQ_IDS == VNI_IDS && QINQ_ID_BITS == Vni::BITS);
}

#[cfg(test)]
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn range_is_checked_at_both_ends() {
        let cases: &[(u64, Option<u32>)] = &[
            (0, Some(0)),
            (1, Some(1)),
            (16_777_215, Some(16_777_215)),
            (16_777_216, None),
            (u64::from(u32::MAX), None),
            (u64::MAX, None),
        ];
        for &(input, expect) in cases {
            assert_eq!(
                Vni::try_from(input).ok().map(Vni::get),
                expect,
                "input {input}"
            );
        }
    }

    #[test]
    fn wire_bytes_round_trip_in_network_order() {
        let vni = Vni::new(0x12_34_56).unwrap();
        assert_eq!(vni.to_be_bytes(), [0x12, 0x34, 0x56]);
        assert_eq!(Vni::from_be_bytes([0x12, 0x34, 0x56]), vni);
    }

    #[test]
    fn error_message_names_the_limit() {
        let msg = alloc::format!("{}", Vni::new(16_777_216).unwrap_err());
        assert!(msg.contains("16777215"), "{msg}");
    }

    #[test]
    fn id_space_arithmetic_matches_the_article() {
        assert_eq!(id_space::VLAN_IDS, 4096);
        assert_eq!(id_space::VNI_IDS, 16_777_216);
        assert_eq!(id_space::QINQ_IDS, id_space::VNI_IDS);
        assert_eq!(id_space::VNI_PER_VLAN, 4096);
    }
}
