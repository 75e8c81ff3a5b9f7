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
