//! Limits checked from the header, before any pixel buffer exists (docs/protocol.md, Limits).

use crate::error::{ProcessError, Result};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest input width or height.
    pub max_side: u32,
    /// Largest input area, all frames together.
    pub max_pixels: u64,
    /// Largest number of animation frames.
    pub max_frames: u32,
    /// Largest output width or height.
    pub max_output_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_side: 30_000,
            max_pixels: 250_000_000,
            max_frames: 300,
            max_output_side: 9_999,
        }
    }
}

impl Limits {
    /// Check a frame of `width`×`height` given `pixels_before` pixels already accepted.
    pub fn check_frame(
        &self,
        width: u32,
        height: u32,
        frames_before: u32,
        pixels_before: u64,
    ) -> Result<u64> {
        if width == 0 || height == 0 {
            return Err(ProcessError::InvalidImageFormat(format!(
                "image has an empty side ({width}x{height})"
            )));
        }
        if width > self.max_side || height > self.max_side {
            return Err(ProcessError::ImageTooLarge(format!(
                "{width}x{height} exceeds {} px per side",
                self.max_side
            )));
        }
        if frames_before + 1 > self.max_frames {
            return Err(ProcessError::ImageTooLarge(format!(
                "more than {} frames",
                self.max_frames
            )));
        }
        let total = pixels_before + u64::from(width) * u64::from(height);
        if total > self.max_pixels {
            return Err(ProcessError::ImageTooLarge(format!(
                "{total} pixels exceed the limit of {}",
                self.max_pixels
            )));
        }
        Ok(total)
    }

    /// A result of `width`×`height`: within the output side limit, not empty, and within
    /// the pixel limit that bounds inputs.
    pub fn check_output(&self, width: u32, height: u32, what: &str) -> Result<()> {
        self.check_output_frames(width, height, 1, what)
    }

    /// [`Limits::check_output`] for `frames` frames of `width`×`height`: an output is held
    /// to the same pixel limit as an input, all its frames together, so that enlarging an
    /// animation cannot make more pixels than any accepted input holds.
    pub fn check_output_frames(
        &self,
        width: u32,
        height: u32,
        frames: usize,
        what: &str,
    ) -> Result<()> {
        self.check_output_sides(width, height, what)?;
        let total = u64::from(width) * u64::from(height) * frames.max(1) as u64;
        if total > self.max_pixels {
            return Err(ProcessError::InvalidArgument(format!(
                "{what}: output {width}x{height} x {frames} frame(s) is {total} pixels, over the limit of {}",
                self.max_pixels
            )));
        }
        Ok(())
    }

    fn check_output_sides(&self, width: u32, height: u32, what: &str) -> Result<()> {
        if width > self.max_output_side || height > self.max_output_side {
            return Err(ProcessError::InvalidArgument(format!(
                "{what}: output {width}x{height} exceeds {} px per side",
                self.max_output_side
            )));
        }
        if width == 0 || height == 0 {
            return Err(ProcessError::InvalidArgument(format!(
                "{what}: output would be empty ({width}x{height})"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            max_side: 100,
            max_pixels: 5_000,
            max_frames: 3,
            max_output_side: 80,
        }
    }

    #[test]
    fn defaults_are_the_documented_cos_limits() {
        let l = Limits::default();
        assert_eq!(
            (l.max_side, l.max_pixels, l.max_frames, l.max_output_side),
            (30_000, 250_000_000, 300, 9_999)
        );
    }

    #[test]
    fn check_frame_accepts_up_to_each_limit_and_sums_the_pixels() {
        let l = small();
        assert_eq!(l.check_frame(100, 50, 0, 0), Ok(5_000));
        assert_eq!(l.check_frame(10, 10, 0, 0), Ok(100));
        assert_eq!(l.check_frame(10, 10, 2, 4_900), Ok(5_000));
    }

    #[test]
    fn check_frame_refusals() {
        let l = small();
        assert!(matches!(
            l.check_frame(0, 10, 0, 0),
            Err(ProcessError::InvalidImageFormat(m)) if m.contains("empty side")
        ));
        assert!(matches!(
            l.check_frame(101, 1, 0, 0),
            Err(ProcessError::ImageTooLarge(m)) if m.contains("exceeds 100 px per side")
        ));
        assert!(matches!(
            l.check_frame(1, 101, 0, 0),
            Err(ProcessError::ImageTooLarge(_))
        ));
        assert!(matches!(
            l.check_frame(1, 1, 3, 0),
            Err(ProcessError::ImageTooLarge(m)) if m.contains("more than 3 frames")
        ));
        // The pixels of earlier frames count.
        assert!(matches!(
            l.check_frame(10, 10, 1, 4_901),
            Err(ProcessError::ImageTooLarge(m)) if m.contains("5001 pixels")
        ));
    }

    #[test]
    fn check_output_refuses_oversized_and_empty_results_naming_the_step() {
        let l = small();
        assert_eq!(l.check_output(80, 60, "thumbnail"), Ok(()));
        assert!(matches!(
            l.check_output(81, 10, "thumbnail"),
            Err(ProcessError::InvalidArgument(m))
                if m.starts_with("thumbnail:") && m.contains("exceeds 80 px per side")
        ));
        assert!(matches!(
            l.check_output(10, 0, "crop"),
            Err(ProcessError::InvalidArgument(m)) if m.starts_with("crop:") && m.contains("empty")
        ));
    }

    #[test]
    fn check_output_frames_counts_every_frame_against_the_pixel_limit() {
        let l = small();
        assert_eq!(l.check_output_frames(50, 50, 2, "resize"), Ok(()));
        assert!(matches!(
            l.check_output_frames(50, 50, 3, "resize"),
            Err(ProcessError::InvalidArgument(m)) if m.contains("7500 pixels")
        ));
        // No frames counts as one.
        assert_eq!(l.check_output_frames(50, 50, 0, "resize"), Ok(()));
        assert!(l.check_output_frames(80, 80, 0, "resize").is_err());
    }
}
