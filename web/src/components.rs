//! Yew components. They only render [`crate::model`] values; no logic lives here.

use yew::prelude::*;

use crate::model::{HexDump, Overview};

/// The whole page.
#[function_component(App)]
pub fn app() -> Html {
    // Computed once per mount: the sample frame does not change while the page is open.
    let overview = use_memo((), |()| Overview::from_core());
    html! {
        <main class="app">
            <header>
                <h1 class="title">{ "Overlay Lab" }</h1>
                <p class="subtitle">
                    { "A VXLAN tunnel endpoint in your browser. vtep-core " }
                    <span class="version">{ overview.core_version }</span>
                </p>
            </header>
            <SampleFrame vni={overview.sample_vni.clone()} frame={overview.frame.clone()} />
        </main>
    }
}

/// Props of [`SampleFrame`].
#[derive(Debug, Properties, PartialEq)]
pub struct SampleFrameProps {
    /// The VNI the frame carries.
    pub vni: AttrValue,
    /// The frame to show.
    pub frame: HexDump,
}

/// Props of [`HexView`].
#[derive(Debug, Properties, PartialEq)]
pub struct HexViewProps {
    /// The bytes to show.
    pub frame: HexDump,
}

/// The sample encapsulated ARP request, with an explanation and a hex dump.
#[function_component(SampleFrame)]
pub fn sample_frame(props: &SampleFrameProps) -> Html {
    let frame = &props.frame;
    html! {
        <section class="sample">
            <h2>{ "An encapsulated ARP request" }</h2>
            <p class="explain">
                { "A host asks \"who has this IP address?\" with a broadcast ARP request. Its VTEP \
                   cannot know yet which remote VTEP hides that address, so it wraps the request \
                   and floods it to its peers. Below is that underlay frame, produced by \
                   vtep-core itself: an outer Ethernet header (14 bytes), an outer IPv4 header \
                   (20), a UDP header (8, destination port 4789), the VXLAN header (8, carrying \
                   the 24-bit network identifier, here VNI " }
                <span class="vni">{ props.vni.clone() }</span>
                { "), then the host's original Ethernet frame with the ARP request inside." }
            </p>
            if frame.is_empty() {
                <p class="frame-empty">
                    { "No sample frame yet: this vtep-core returned an empty buffer." }
                </p>
            } else {
                <p class="frame-len">
                    { "Frame length: " }<span class="len">{ frame.len }</span>{ " bytes" }
                </p>
                <HexView frame={frame.clone()} />
            }
        </section>
    }
}

/// A hex dump, one line per 16 bytes: `offset  bytes`.
#[function_component(HexView)]
fn hex_view(props: &HexViewProps) -> Html {
    html! {
        <pre class="hexdump" aria-label="sample frame hex dump">
            { for props.frame.lines.iter().map(|line| html! {
                <div class="hex-line" key={line.offset.clone()}>
                    <span class="hex-offset">{ &line.offset }</span>
                    { "  " }
                    <span class="hex-bytes">{ &line.bytes }</span>
                </div>
            }) }
        </pre>
    }
}
