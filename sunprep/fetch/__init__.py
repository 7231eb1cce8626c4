"""Fetch the Kinect v2 part of SUN RGB-D out of the published zip archives, verified and resumable.

`sources` says where bytes come from (HTTP ranges or a local zip), `retry` when to try again,
`stream` reads a byte range in order across drops, `directory` reads the zip's central directory,
`entry` reads one member out of a stream, `store` is where verified files land, `ranged`,
`streamed` (--full) and `folder` are the three ways to fetch, and `run` ties them to one
`FetchConfig`.
"""
