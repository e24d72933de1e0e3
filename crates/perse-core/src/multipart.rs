//! A `multipart/form-data` body built in one buffer, so a retry resends the same bytes
//! (a cheap `Bytes` clone) and tests can assert the exact wire format.

use bytes::{BufMut, Bytes, BytesMut};

/// Builder for one multipart body.
pub struct Multipart {
    boundary: String,
    body: BytesMut,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// A builder with a random boundary (96 bits: it cannot plausibly occur in an image).
    pub fn new() -> Self {
        Self::with_boundary(format!("perse-{:024x}", rand::random::<u128>() >> 32))
    }

    pub fn with_boundary(boundary: String) -> Self {
        Multipart {
            boundary,
            body: BytesMut::with_capacity(256),
        }
    }

    /// Adds a text field.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.body.reserve(value.len() + name.len() + 80);
        self.open_part();
        self.body.put_slice(b"Content-Disposition: form-data; name=\"");
        self.body.put_slice(name.as_bytes());
        self.body.put_slice(b"\"\r\n\r\n");
        self.body.put_slice(value.as_bytes());
        self.body.put_slice(b"\r\n");
        self
    }

    /// Adds a file part with its filename and content type.
    pub fn file(&mut self, name: &str, filename: &str, content_type: &str, data: &[u8]) -> &mut Self {
        self.body.reserve(data.len() + 160);
        self.open_part();
        self.body.put_slice(b"Content-Disposition: form-data; name=\"");
        self.body.put_slice(name.as_bytes());
        self.body.put_slice(b"\"; filename=\"");
        self.body.put_slice(filename.as_bytes());
        self.body.put_slice(b"\"\r\nContent-Type: ");
        self.body.put_slice(content_type.as_bytes());
        self.body.put_slice(b"\r\n\r\n");
        self.body.put_slice(data);
        self.body.put_slice(b"\r\n");
        self
    }

    fn open_part(&mut self) {
        self.body.put_slice(b"--");
        self.body.put_slice(self.boundary.as_bytes());
        self.body.put_slice(b"\r\n");
    }

    /// The `Content-Type` header value and the finished body.
    pub fn finish(mut self) -> (String, Bytes) {
        self.body.put_slice(b"--");
        self.body.put_slice(self.boundary.as_bytes());
        self.body.put_slice(b"--\r\n");
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body.freeze(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_wire_format() {
        let mut m = Multipart::with_boundary("B".into());
        m.file("image_file", "image.jpg", "image/jpeg", b"\xFF\xD8xy");
        m.text("client_declaration_enduser_consent", "true");
        let (ct, body) = m.finish();
        assert_eq!(ct, "multipart/form-data; boundary=B");
        let expected = b"--B\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"image.jpg\"\r\n\
Content-Type: image/jpeg\r\n\r\n\xFF\xD8xy\r\n--B\r\nContent-Disposition: form-data; \
name=\"client_declaration_enduser_consent\"\r\n\r\ntrue\r\n--B--\r\n";
        assert_eq!(&body[..], &expected[..]);
    }

    #[test]
    fn random_boundaries_differ() {
        assert_ne!(Multipart::new().boundary, Multipart::new().boundary);
    }
}
