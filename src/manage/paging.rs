//! Listings as `Stream`s that fetch a page only when the previous one is used up, and that stop
//! with an error instead of looping forever when a service hands back a cursor it gave before.

use std::collections::{HashSet, VecDeque};
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;

use futures_util::Stream;

use crate::{Error, ErrorKind, Result};

/// The cursors a listing has used: a listing whose next cursor is one of them would go round in a
/// circle (A → B → A as well as A → A), so it is stopped.
pub(crate) struct Cursors<C> {
    service: &'static str,
    seen: HashSet<C>,
}

impl<C: Clone + Eq + Hash + Display> Cursors<C> {
    pub(crate) fn new(service: &'static str, first: &C) -> Self {
        Cursors { service, seen: HashSet::from([first.clone()]) }
    }

    /// `next`, when no earlier page used it.
    pub(crate) fn advance(&mut self, next: C) -> Result<C> {
        if self.seen.insert(next.clone()) { Ok(next) } else { Err(stuck_cursor(self.service, &next.to_string())) }
    }
}

/// An error for a listing whose cursor does not advance (the stream would never end).
fn stuck_cursor(service: &str, cursor: &str) -> Error {
    Error::new(
        ErrorKind::Server,
        format!("{service} returned the page cursor {cursor:?} a second time; stopping the listing"),
    )
}

/// Items of a paged listing of `service` as a `Stream` that fetches a page only when the previous
/// one is used up. `fetch(cursor)` returns a page's items and the next cursor (`None`: that was
/// the last page). After an error (a repeated cursor too) the stream ends.
pub(crate) fn paged<'a, C, I, F, Fut>(service: &'static str, first: C, fetch: F) -> impl Stream<Item = Result<I>> + 'a
where
    C: Clone + Eq + Hash + Display + 'a,
    I: 'a,
    F: FnMut(C) -> Fut + 'a,
    Fut: Future<Output = Result<(Vec<I>, Option<C>)>> + 'a,
{
    struct State<C, I, F> {
        buffer: VecDeque<I>,
        next: Option<C>,
        /// Yielded once the buffer is empty: a page's items come before its cursor's error.
        failure: Option<Error>,
        cursors: Cursors<C>,
        fetch: F,
    }
    let cursors = Cursors::new(service, &first);
    let state = State { buffer: VecDeque::new(), next: Some(first), failure: None, cursors, fetch };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.buffer.pop_front() {
                return Some((Ok(item), s));
            }
            if let Some(e) = s.failure.take() {
                return Some((Err(e), s));
            }
            let cursor = s.next.take()?;
            match (s.fetch)(cursor).await {
                Ok((items, next)) => {
                    s.buffer.extend(items);
                    match next.map(|next| s.cursors.advance(next)).transpose() {
                        Ok(next) => s.next = next,
                        Err(e) => s.failure = Some(e),
                    }
                }
                Err(e) => return Some((Err(e), s)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::pin::pin;

    use futures_util::StreamExt;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::testing::block_on;

    #[test]
    fn paging_fetches_on_demand() {
        let calls = RefCell::new(Vec::new());
        let stream = paged("S", 0u32, |page| {
            calls.borrow_mut().push(page);
            async move {
                match page {
                    0 => Ok((vec![1, 2], Some(1))),
                    1 => Ok((vec![], Some(2))),
                    2 => Ok((vec![3], None)),
                    _ => unreachable!(),
                }
            }
        });
        let mut stream = pin!(stream);
        assert_eq!(block_on(stream.next()).unwrap().unwrap(), 1);
        assert_eq!(*calls.borrow(), [0], "one page fetched for the first item");
        let rest: Vec<i32> = block_on(stream.map(|r| r.unwrap()).collect());
        assert_eq!(rest, [2, 3]);
        assert_eq!(*calls.borrow(), [0, 1, 2]);

        let failing = paged("S", 0u8, |_| async { Err::<(Vec<u8>, Option<u8>), _>(Error::invalid_input("x")) });
        let all: Vec<Result<u8>> = block_on(failing.collect());
        assert_eq!(all.len(), 1, "the stream ends after an error");
    }

    /// A -> B -> A would list B's and A's items forever; it ends after the items of the page
    /// that pointed back, with an error that names the cursor.
    #[test]
    fn a_cursor_that_comes_back_ends_the_listing() {
        let calls = RefCell::new(0);
        let stream = paged("S", "A".to_owned(), |cursor: String| {
            *calls.borrow_mut() += 1;
            async move {
                match cursor.as_str() {
                    "A" => Ok((vec![1], Some("B".to_owned()))),
                    _ => Ok((vec![2], Some("A".to_owned()))),
                }
            }
        });
        let all: Vec<Result<u8>> = block_on(stream.collect());
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!((all[0].as_ref().unwrap(), all[1].as_ref().unwrap()), (&1, &2));
        let err = all[2].as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert!(err.message().contains("\"A\" a second time"), "{err}");
        assert_eq!(*calls.borrow(), 2);
    }
}
