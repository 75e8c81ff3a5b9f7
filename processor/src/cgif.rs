//! `cgif/<n>`, COS's GIF optimisation, which "reduces frames" of a GIF input:
//!
//! - n = 1 stands for COS's default of 30 frames: a longer GIF is cut after its 30th frame;
//! - n in 2..=100 compresses the animation to n frames: n frames picked at even intervals,
//!   each shown for the frames it stands for (their delays summed), so the animation lasts
//!   as long as before.
//!
//! Only GIF inputs are touched (COS: "只针对原图为 gif 格式"); other animations keep every
//! frame. An animation of n frames or fewer is left as it is.

use std::borrow::Cow;

use crate::decode::Frame;
use crate::format::Format;

/// The frames `cgif/1` keeps.
pub(crate) const DEFAULT_FRAMES: usize = 30;

/// Which of an input's frames a rule works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// The first n (all of them when n is at least the count).
    First(usize),
    /// n frames sampled evenly, their delays summed: a new list of frames.
    Sampled(usize),
}

impl Selection {
    /// How many frames the rule works on, out of `available`.
    pub(crate) fn count(self, available: usize) -> usize {
        match self {
            Selection::First(n) => n.min(available),
            Selection::Sampled(n) => n.min(available),
        }
    }
}

/// The frames of an input of `frames` frames in `source` format that an output in
/// `output` format keeps under `cgif` (`limit`, when given): a still output takes the
/// first frame, an animated one every frame unless `cgif` reduces a GIF's.
pub(crate) fn selection(
    limit: Option<u32>,
    source: Format,
    output: Format,
    frames: usize,
) -> Selection {
    if !output.is_animatable() {
        return Selection::First(1);
    }
    match limit {
        Some(n) if source == Format::Gif => match n as usize {
            1 => Selection::First(DEFAULT_FRAMES),
            n if n < frames => Selection::Sampled(n),
            _ => Selection::First(frames),
        },
        _ => Selection::First(frames),
    }
}

/// The indices of the `n` frames kept out of `total` (n < total): frame k stands for
/// frames `k·total/n` up to the next one's.
fn picked(total: usize, n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n).map(move |k| k * total / n..(k + 1) * total / n)
}

/// `frames` as `selection` keeps them: borrowed when a prefix, copied when sampled.
pub(crate) fn select(frames: &[Frame], selection: Selection) -> Cow<'_, [Frame]> {
    match selection {
        Selection::Sampled(n) if n < frames.len() => Cow::Owned(
            picked(frames.len(), n)
                .map(|run| Frame {
                    image: frames[run.start].image.clone(),
                    delay_ms: frames[run]
                        .iter()
                        .fold(0u32, |sum, f| sum.saturating_add(f.delay_ms)),
                })
                .collect(),
        ),
        other => Cow::Borrowed(&frames[..other.count(frames.len())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::DynamicImage;

    /// `n` 1×1 frames whose pixel value is their index, with these delays.
    fn frames(delays: &[u32]) -> Vec<Frame> {
        delays
            .iter()
            .enumerate()
            .map(|(i, &delay_ms)| Frame {
                image: DynamicImage::ImageLuma8(image::GrayImage::from_pixel(
                    1,
                    1,
                    image::Luma([i as u8]),
                )),
                delay_ms,
            })
            .collect()
    }

    fn indices(frames: &[Frame]) -> Vec<u8> {
        frames.iter().map(|f| f.image.as_bytes()[0]).collect()
    }

    #[test]
    fn sampling_keeps_n_evenly_spaced_frames_and_the_duration() {
        let input = frames(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        let kept = select(&input, Selection::Sampled(4));
        assert_eq!(indices(&kept), [0, 2, 5, 7]);
        let delays: Vec<u32> = kept.iter().map(|f| f.delay_ms).collect();
        assert_eq!(delays, [10 + 20, 30 + 40 + 50, 60 + 70, 80 + 90 + 100]);
        assert_eq!(delays.iter().sum::<u32>(), 550);
        assert!(matches!(kept, Cow::Owned(_)));
    }

    #[test]
    fn every_count_keeps_the_whole_duration() {
        let input = frames(&[30; 37]);
        for n in 2..37 {
            let kept = select(&input, Selection::Sampled(n));
            assert_eq!(kept.len(), n);
            assert_eq!(kept.iter().map(|f| f.delay_ms).sum::<u32>(), 30 * 37, "{n}");
            assert_eq!(kept[0].image.as_bytes()[0], 0);
        }
    }

    #[test]
    fn cgif_1_cuts_gifs_after_30_frames() {
        let s = selection(Some(1), Format::Gif, Format::Gif, 45);
        assert_eq!(s, Selection::First(30));
        let input = frames(&[10; 45]);
        let kept = select(&input, s);
        assert_eq!(indices(&kept), (0..30).collect::<Vec<u8>>());
        assert!(matches!(kept, Cow::Borrowed(_)));
        assert_eq!(select(&input[..12], s).len(), 12);
    }

    #[test]
    fn only_gif_inputs_are_reduced_and_stills_take_the_first_frame() {
        assert_eq!(
            selection(Some(5), Format::Gif, Format::Webp, 20),
            Selection::Sampled(5)
        );
        assert_eq!(
            selection(Some(5), Format::Webp, Format::Webp, 20),
            Selection::First(20)
        );
        assert_eq!(
            selection(Some(5), Format::Gif, Format::Gif, 5),
            Selection::First(5)
        );
        assert_eq!(
            selection(None, Format::Gif, Format::Gif, 9),
            Selection::First(9)
        );
        assert_eq!(
            selection(Some(5), Format::Gif, Format::Png, 20),
            Selection::First(1)
        );
    }

    /// A GIF of `n` frames of 40×30, frame i of grey 10·i shown (i % 3 + 1)·10 ms.
    fn gif(n: u8) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
            for i in 0..n {
                let px = image::Rgba([i * 10, i * 10, i * 10, 255]);
                let delay = image::Delay::from_numer_denom_ms(u32::from(i % 3 + 1) * 10, 1);
                let img = image::RgbaImage::from_pixel(40, 30, px);
                let frame = image::Frame::from_parts(img, 0, 0, delay);
                enc.encode_frame(frame).expect("frame encoded");
            }
        }
        out
    }

    #[test]
    fn a_processed_gif_has_n_frames_lasting_as_long() {
        let limits = crate::Limits::default();
        let out = crate::process(&gif(12), "imageMogr2/cgif/3", &limits).expect("processed");
        let decoded =
            crate::decode::decode(&out.bytes, &limits, crate::Frames::All).expect("decoded");
        let grey: Vec<u8> = decoded
            .frames
            .iter()
            .map(|f| f.image.to_rgba8().get_pixel(0, 0).0[0] / 10)
            .collect();
        assert_eq!(grey, [0, 4, 8]);
        let delays: Vec<u32> = decoded.frames.iter().map(|f| f.delay_ms).collect();
        assert_eq!(delays, [70, 80, 90]);
    }

    #[test]
    fn the_sampled_copies_are_in_the_memory_estimate() {
        let data = gif(12);
        let limits = crate::Limits::default();
        let source = crate::decode::probe(&data, &limits).expect("probed");
        let rule = crate::rule::parse_rule("imageMogr2/cgif/3").expect("rule");
        let peak = crate::pipeline::peak_bytes(&rule, &source, (12, (40, 30)), 0, &limits);
        let encoding = crate::memory::Encoding {
            format: Format::Gif,
            lossless: false,
            interlace: false,
            size_limit: false,
            icc: 0,
        };
        let copies = 3 * crate::memory::rgba(40, 30);
        let encode = crate::memory::encode_bytes(encoding, 3, (40, 30));
        assert!(peak.bytes >= copies + encode, "{}", peak.bytes);
    }
}
