//! End-to-end: the chapter's workflow through the facade, on data the project renders itself.

mod workflow;
