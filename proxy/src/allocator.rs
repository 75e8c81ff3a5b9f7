//! glibc malloc settings for a long-running server that moves large buffers.
//!
//! By default glibc returns the top of a thread's heap to the kernel as soon as more than
//! 128 KiB of it is free, and serves every allocation above a threshold (128 KiB at first)
//! with its own `mmap`. A proxy allocates and frees a 64 KiB piece per body chunk, and an
//! upload allocates megabytes of body and pixels, so both keep handing pages back and
//! faulting fresh zeroed ones in: 15 % of picops' CPU on a 1 MB GET was page faults and
//! `madvise`. Keeping up to 32 MiB of free heap per arena, and taking allocations up to
//! 8 MiB from the heap, measured (same run, variants taking turns, Garage upstream):
//!
//! - 1 MB GET through picops: 1.40 → 1.15 ms CPU per request;
//! - PUT + 3 rules of a 4.2 MB JPEG: 81 → 78 ms CPU per upload;
//! - 64 concurrent 23 MB uploads: peak RSS 784–863 MiB, within the 1 GiB goal. Larger
//!   settings (256 MiB kept, 32 MiB from the heap) reached 1032 MiB there, so not those.
//!
//! The fixed values also switch off glibc's own threshold adjustment, which would otherwise
//! raise the mmap threshold to the largest buffer freed so far (up to 32 MiB).

/// Free heap an arena keeps instead of returning it to the kernel.
const KEEP_FREE_BYTES: i32 = 32 << 20;
/// Allocations at least this large get their own mapping (and give it back when freed).
const OWN_MAPPING_FROM_BYTES: i32 = 8 << 20;

/// Apply the settings, unless the operator tuned malloc through the environment (glibc reads
/// `MALLOC_*_` and `GLIBC_TUNABLES` at start; those win).
pub fn tune() {
    let tuned_by_env = std::env::vars_os().any(|(k, _)| {
        let k = k.to_string_lossy();
        k == "GLIBC_TUNABLES" || (k.starts_with("MALLOC_") && k.ends_with('_'))
    });
    if tuned_by_env {
        return;
    }
    set();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set() {
    // SAFETY: mallopt only changes allocator parameters; it is called before the server
    // starts any thread, and glibc takes its own lock for it.
    let ok = unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREE_BYTES) == 1
            && libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM_BYTES) == 1
    };
    if !ok {
        tracing::warn!("glibc refused the malloc settings; running with its defaults");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set() {}
