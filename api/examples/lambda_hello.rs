//! The smallest `lambda_http` function: the baseline that `tandem-api`'s Lambda cold
//! start is measured against (`scripts/cold-start`).

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Ok::<_, Error>(Response::new(Body::from(r#"{"status":"ok"}"#)))
    }))
    .await
}
