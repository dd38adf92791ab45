//! Project materials: the `MaterialMaps` parameter of Create/AddEditingProjectMaterials,
//! parsed into typed materials. Pure: whether the named media and projects exist is the
//! actions' business.

use serde::{Deserialize, Serialize};

use super::project::Invalid;
use super::vendor_enum;

/// Most IDs per material type (vendor limit).
pub const MAX_PER_TYPE: usize = 10;

vendor_enum!(
    /// A material type, spelled as MaterialMaps and MaterialType spell it.
    MaterialType {
        Video = "video",
        Image = "image",
        Audio = "audio",
        Subtitle = "subtitle",
        Text = "text",
        LiveStream = "liveStream",
        EditingProject = "editingProject",
    }
);

impl MaterialType {
    /// The types that name media of the library (they share one namespace of media IDs).
    pub const MEDIA: &'static [MaterialType] = &[
        MaterialType::Video,
        MaterialType::Image,
        MaterialType::Audio,
        MaterialType::Subtitle,
        MaterialType::Text,
    ];

    pub fn is_media(self) -> bool {
        Self::MEDIA.contains(&self)
    }
}

/// One live stream of a live editing project (`liveStream` in MaterialMaps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveMaterial {
    #[serde(
        rename(serialize = "AppName", deserialize = "appName"),
        alias = "AppName"
    )]
    pub app_name: String,
    #[serde(
        rename(serialize = "DomainName", deserialize = "domainName"),
        alias = "DomainName"
    )]
    pub domain_name: String,
    #[serde(
        rename(serialize = "LiveUrl", deserialize = "liveUrl"),
        alias = "LiveUrl"
    )]
    pub live_url: String,
    #[serde(
        rename(serialize = "StreamName", deserialize = "streamName"),
        alias = "StreamName"
    )]
    pub stream_name: String,
}

/// One material of a project: a media asset, a project, or a live stream (whose ID is its
/// JSON, as stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    pub kind: MaterialType,
    pub id: String,
}

/// The parsed MaterialMaps parameter, in the order given.
#[derive(Debug, Default, PartialEq)]
pub struct MaterialMaps {
    pub materials: Vec<Material>,
}

impl MaterialMaps {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = |why: String| Invalid::new("MaterialMaps", why);
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw)
            .map_err(|e| bad(format!("It must be a JSON object: {e}.")))?;
        let mut materials = Vec::new();
        for (name, value) in map {
            let kind = name.parse::<MaterialType>().map_err(|_| {
                bad(format!(
                    "Unknown material type \"{name}\"; valid: video, image, audio, subtitle, text, liveStream, editingProject."
                ))
            })?;
            if kind == MaterialType::LiveStream {
                // The documented form is a JSON array inside a string; a plain array is accepted too.
                let streams: Vec<LiveMaterial> = match &value {
                    serde_json::Value::String(s) => serde_json::from_str(s),
                    other => serde_json::from_value(other.clone()),
                }
                .map_err(|e| bad(format!("liveStream must be a JSON array of {{appName, domainName, liveUrl, streamName}}: {e}.")))?;
                if streams.len() > MAX_PER_TYPE {
                    return Err(bad(format!(
                        "At most {MAX_PER_TYPE} liveStream items are allowed."
                    )));
                }
                for s in streams {
                    let id = serde_json::to_string(&s).map_err(|e| bad(e.to_string()))?;
                    materials.push(Material { kind, id });
                }
                continue;
            }
            let ids = value
                .as_str()
                .ok_or_else(|| bad(format!("{name} must be a comma-separated string of IDs.")))?;
            let ids: Vec<&str> = ids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if ids.len() > MAX_PER_TYPE {
                return Err(bad(format!(
                    "At most {MAX_PER_TYPE} IDs per type are allowed ({name})."
                )));
            }
            materials.extend(ids.into_iter().map(|id| Material {
                kind,
                id: id.to_string(),
            }));
        }
        Ok(MaterialMaps { materials })
    }

    /// The (type, ID) rows the store keeps.
    pub fn rows(&self) -> Vec<(String, String)> {
        self.materials
            .iter()
            .map(|m| (m.kind.as_str().to_string(), m.id.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_maps_as_documented() {
        let raw = r#"{"video":"a,b", "image":"c", "liveStream": "[{\"appName\":\"testrecord\",\"domainName\":\"test.alivecdn.com\",\"liveUrl\":\"rtmp://test.alivecdn.com/testrecord/teststream\",\"streamName\":\"teststream\"}]", "editingProject": "p1"}"#;
        let m = MaterialMaps::parse(raw).unwrap();
        let kinds: Vec<MaterialType> = m.materials.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == MaterialType::Video).count(),
            2
        );
        assert!(
            kinds.contains(&MaterialType::LiveStream)
                && kinds.contains(&MaterialType::EditingProject)
        );
        let live = m
            .materials
            .iter()
            .find(|m| m.kind == MaterialType::LiveStream)
            .unwrap();
        let back: LiveMaterial = serde_json::from_str(&live.id).unwrap();
        assert_eq!(back.stream_name, "teststream");
        assert!(m.rows().contains(&("editingProject".into(), "p1".into())));
        let eleven = (0..11)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(MaterialMaps::parse(&format!(r#"{{"video":"{eleven}"}}"#)).is_err());
        let unknown = MaterialMaps::parse(r#"{"movie":"a"}"#).unwrap_err();
        assert!(
            unknown
                .reason
                .starts_with("Unknown material type \"movie\"")
        );
        assert!(MaterialMaps::parse("[1]").is_err());
    }
}
