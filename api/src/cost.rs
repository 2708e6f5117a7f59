//! What Tandem costs on AWS per million completed pairings (a create, a pairing and one
//! read), from the requests each call makes and AWS's published prices; `just bench`
//! prints it and the README states it.
//!
//! Counted: the DynamoDB request units of the three calls (the table's writes and every
//! index write they cause: [`crate::store::dynamodb::CREATE_WRITE_UNITS`],
//! [`crate::store::dynamodb::PAIR_WRITE_UNITS`], [`crate::store::dynamodb::GET_READ_UNITS`]),
//! Lambda's price per request and per GB-second of the three invocations, and the front door
//! (an HTTP API charges per request; a function URL charges nothing). Not counted: storage,
//! logs, the KMS key, data transfer, and free tiers.

use crate::store::dynamodb::{CREATE_WRITE_UNITS, GET_READ_UNITS, PAIR_WRITE_UNITS};

/// AWS's prices, in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// DynamoDB on-demand, per million write request units.
    pub dynamodb_write_per_million: f64,
    /// DynamoDB on-demand, per million read request units.
    pub dynamodb_read_per_million: f64,
    /// Lambda, per million requests.
    pub lambda_request_per_million: f64,
    /// Lambda on arm64, per GB-second.
    pub lambda_arm64_per_gb_second: f64,
    /// API Gateway HTTP API, per million requests (the first 300 million a month).
    pub http_api_per_million: f64,
}

impl Prices {
    /// us-east-1, as published on aws.amazon.com/dynamodb/pricing/on-demand (since
    /// November 2024), aws.amazon.com/lambda/pricing and aws.amazon.com/api-gateway/pricing.
    pub const US_EAST_1: Self = Self {
        dynamodb_write_per_million: 0.625,
        dynamodb_read_per_million: 0.125,
        lambda_request_per_million: 0.20,
        lambda_arm64_per_gb_second: 0.000_013_333_4,
        http_api_per_million: 1.00,
    };
}

/// How requests reach the API's Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontDoor {
    /// A Lambda function URL: no charge of its own.
    FunctionUrl,
    /// An API Gateway HTTP API: a charge per request.
    HttpApi,
}

/// The Lambda's size and how long each call is billed for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambdaUse {
    /// Its memory, in MB (Terraform's `api_memory_mb`).
    pub memory_mb: u32,
    /// Billed milliseconds per call (warm; Lambda bills by the millisecond).
    pub billed_ms: f64,
}

/// The cost of a million completed pairings, by part, in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breakdown {
    /// DynamoDB write request units.
    pub dynamodb_writes: f64,
    /// DynamoDB read request units.
    pub dynamodb_reads: f64,
    /// Lambda requests.
    pub lambda_requests: f64,
    /// Lambda GB-seconds.
    pub lambda_duration: f64,
    /// The front door's requests.
    pub front_door: f64,
}

/// The calls of one completed pairing: create, pair, one read.
const CALLS: f64 = 3.0;

impl Breakdown {
    /// A million pairings through `front_door`, on a Lambda used as `lambda`, at `prices`.
    pub fn per_million_pairings(front_door: FrontDoor, lambda: LambdaUse, prices: Prices) -> Self {
        let write_units = f64::from(CREATE_WRITE_UNITS + PAIR_WRITE_UNITS);
        let read_units = f64::from(GET_READ_UNITS);
        let gb_seconds_per_call = f64::from(lambda.memory_mb) / 1024.0 * lambda.billed_ms / 1000.0;
        Self {
            dynamodb_writes: write_units * prices.dynamodb_write_per_million,
            dynamodb_reads: read_units * prices.dynamodb_read_per_million,
            lambda_requests: CALLS * prices.lambda_request_per_million,
            lambda_duration: CALLS * gb_seconds_per_call * prices.lambda_arm64_per_gb_second * 1e6,
            front_door: match front_door {
                FrontDoor::FunctionUrl => 0.0,
                FrontDoor::HttpApi => CALLS * prices.http_api_per_million,
            },
        }
    }

    /// The sum of the parts.
    pub fn total(&self) -> f64 {
        self.dynamodb_writes
            + self.dynamodb_reads
            + self.lambda_requests
            + self.lambda_duration
            + self.front_door
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_door_adds_its_price_per_call_and_nothing_else_changes() {
        let lambda = LambdaUse {
            memory_mb: 256,
            billed_ms: 20.0,
        };
        let url =
            Breakdown::per_million_pairings(FrontDoor::FunctionUrl, lambda, Prices::US_EAST_1);
        let api = Breakdown::per_million_pairings(FrontDoor::HttpApi, lambda, Prices::US_EAST_1);
        assert_eq!(url.front_door, 0.0);
        assert!((api.total() - url.total() - 3.0).abs() < 1e-9);
        // 0.25 GB × 0.02 s × 3 calls × 1e6 pairings × the price per GB-second.
        assert!((url.lambda_duration - 0.25 * 0.02 * 3.0 * 1e6 * 0.000_013_333_4).abs() < 1e-9);
        let parts =
            url.dynamodb_writes + url.dynamodb_reads + url.lambda_requests + url.lambda_duration;
        assert!((url.total() - parts).abs() < 1e-12);
    }
}
