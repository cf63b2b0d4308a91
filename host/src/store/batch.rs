//! A batch of upserts as the store writes it: per object its type, external id, scope and
//! attributes as canonical JSON (compact, keys sorted at every level: what `serde_json` writes
//! for [`Attributes`](connector_api::Attributes)), all held as spans of one text.
//!
//! A batch of a thousand objects is a few allocations instead of several per object, the store
//! binds the spans as they are, and the attributes are never parsed or serialised again: an
//! unchanged object is one byte comparison with its stored JSON. The runner fills a batch
//! straight from the boundary's JSON lines (`runner::lines`) or from [`Object`]s.

use std::ops::Range;

use connector_api::Object;

use super::to_json;

/// Upserts received in one batch, with the time they arrived.
#[derive(Debug, Clone, Default)]
pub struct UpsertBatch {
    /// The text the spans of `rows` point into.
    text: String,
    rows: Vec<Row>,
    /// When the batch arrived (RFC 3339), recorded as `changed_at` of what it changes.
    pub at: String,
}

/// Where the fields of one upsert are in the batch's text.
#[derive(Debug, Clone)]
struct Row {
    object_type: Range<usize>,
    external_id: Range<usize>,
    scope: Option<Range<usize>>,
    attributes: Range<usize>,
}

/// One upsert of a batch, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upsert<'a> {
    /// The object's type.
    pub object_type: &'a str,
    /// Its id, unique within the type.
    pub external_id: &'a str,
    /// The scope it belongs to, if any.
    pub scope: Option<&'a str>,
    /// Its attributes as canonical JSON (an object; compact, keys sorted at every level).
    pub attributes: &'a str,
}

impl UpsertBatch {
    /// An empty batch received at `at`.
    pub fn new(at: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            ..Self::default()
        }
    }

    /// A batch whose spans point into `text` (see [`push_spans`](Self::push_spans)).
    pub(crate) fn over(text: String, at: impl Into<String>) -> Self {
        Self {
            text,
            rows: Vec::new(),
            at: at.into(),
        }
    }

    /// A batch of `objects` (their attributes serialised once, canonically).
    pub fn from_objects(objects: &[Object], at: impl Into<String>) -> Self {
        let mut batch = Self::new(at);
        for object in objects {
            batch.push_object(object);
        }
        batch
    }

    /// Appends `object`.
    pub fn push_object(&mut self, object: &Object) {
        self.push(Upsert {
            object_type: object.object_type.as_str(),
            external_id: &object.external_id,
            scope: object.scope.as_deref(),
            attributes: &to_json(&object.attributes),
        });
    }

    /// Appends a copy of `upsert`; its `attributes` must be canonical JSON.
    pub fn push(&mut self, upsert: Upsert<'_>) {
        let object_type = self.append(upsert.object_type);
        let external_id = self.append(upsert.external_id);
        let scope = upsert.scope.map(|s| self.append(s));
        let attributes = self.append(upsert.attributes);
        self.rows.push(Row {
            object_type,
            external_id,
            scope,
            attributes,
        });
    }

    /// Appends an upsert whose fields are already in the text, at these spans (checked to be
    /// within it, on character boundaries; `attributes` must be canonical JSON).
    ///
    /// # Panics
    /// A span is outside the text or not on character boundaries: a bug in the caller.
    pub(crate) fn push_spans(
        &mut self,
        object_type: Range<usize>,
        external_id: Range<usize>,
        scope: Option<Range<usize>>,
        attributes: Range<usize>,
    ) {
        for span in [&object_type, &external_id, &attributes]
            .into_iter()
            .chain(scope.as_ref())
        {
            assert!(
                self.text.get(span.clone()).is_some(),
                "an upsert span outside its batch's text"
            );
        }
        self.rows.push(Row {
            object_type,
            external_id,
            scope,
            attributes,
        });
    }

    fn append(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    /// The text the upserts' fields are spans of.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// How many upserts the batch holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch holds no upsert.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The `index`th upsert.
    pub fn get(&self, index: usize) -> Option<Upsert<'_>> {
        self.rows.get(index).map(|row| self.upsert(row))
    }

    /// The upserts, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Upsert<'_>> + '_ {
        self.rows.iter().map(|row| self.upsert(row))
    }

    fn upsert(&self, row: &Row) -> Upsert<'_> {
        // Every span was checked (or made) on push.
        let at = |span: &Range<usize>| self.text.get(span.clone()).unwrap_or_default();
        Upsert {
            object_type: at(&row.object_type),
            external_id: at(&row.external_id),
            scope: row.scope.as_ref().map(at),
            attributes: at(&row.attributes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_spans_read_back_in_order() {
        let mut batch = UpsertBatch::from_objects(
            &[
                Object::new("User", "00u1").with("b", 1).with("a", "é\"x"),
                Object::new("GroupMember", "00g1:00u1").in_scope("00g1"),
            ],
            "t",
        );
        assert_eq!(batch.len(), 2);
        let first = batch.get(0).unwrap();
        assert_eq!(
            (first.object_type, first.external_id, first.scope),
            ("User", "00u1", None)
        );
        assert_eq!(first.attributes, r#"{"a":"é\"x","b":1}"#);
        assert_eq!(batch.get(1).unwrap().scope, Some("00g1"));
        assert_eq!(batch.get(1).unwrap().attributes, "{}");

        let mut over = UpsertBatch::over("xxGroupabc{}".to_owned(), "t");
        over.push_spans(2..7, 7..10, None, 10..12);
        let read: Vec<Upsert<'_>> = over.iter().collect();
        assert_eq!(
            read,
            [Upsert {
                object_type: "Group",
                external_id: "abc",
                scope: None,
                attributes: "{}"
            }]
        );
        batch.push(read[0]);
        assert_eq!(batch.get(2), Some(read[0]));
        assert!(!batch.is_empty() && UpsertBatch::new("t").is_empty());
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn a_span_outside_the_text_is_a_bug() {
        UpsertBatch::over("ab".to_owned(), "t").push_spans(0..1, 1..3, None, 0..2);
    }
}
