"""Wire formats as pure functions: bytes/str in, reads (or typed InputErrors) out; and encoders."""
