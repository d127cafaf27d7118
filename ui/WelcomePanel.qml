// The first thing a new user sees: what a model is, a way to pick one, and
// the models Daub found in the usual places (AUTOMATIC1111, ComfyUI, the
// Hugging Face cache, ~/.local/share/Daub/models).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root

    /// [{name, path, location, bytes}]
    property var foundModels: []
    property bool scanning: false
    /// The last load failure, shown above the choices.
    property string error: ""
    property bool loading: false

    signal pickModelFile()
    signal pickModelFolder()
    signal modelChosen(string path)
    signal rescan()

    function sizeText(bytes) {
        if (bytes >= 1e9) return (bytes / 1e9).toFixed(1) + " GB"
        if (bytes >= 1e6) return (bytes / 1e6).toFixed(0) + " MB"
        return Math.max(1, Math.round(bytes / 1e3)) + " kB"
    }

    color: Theme.window

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth

        ColumnLayout {
            width: Math.min(560, parent.width - 48)
            x: (parent.width - width) / 2
            spacing: 14

            Item { Layout.preferredHeight: 36 }
            Image {
                Layout.alignment: Qt.AlignHCenter
                source: "qrc:/daub/icons/daub.svg"
                sourceSize: Qt.size(72, 72)
            }
            Label {
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                text: qsTr("Welcome to Daub")
                font.pixelSize: 26
                font.weight: Font.DemiBold
                color: Theme.text
            }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                horizontalAlignment: Text.AlignHCenter
                color: Theme.mutedText
                text: qsTr("Daub paints pictures from your words, on this computer, without the internet. "
                         + "It needs a <b>model</b>: a large file (2\u20137 GB) that has learned what things look like. "
                         + "Stable Diffusion 1.5 and SDXL models work, as one <i>.safetensors</i> file "
                         + "or as a diffusers folder.")
                textFormat: Text.StyledText
            }

            Rectangle {
                Layout.fillWidth: true
                visible: root.error !== ""
                implicitHeight: errorLabel.implicitHeight + 20
                radius: Theme.smallRadius
                color: Theme.dangerSoft
                Label {
                    id: errorLabel
                    anchors.fill: parent
                    anchors.margins: 10
                    text: root.error
                    wrapMode: Text.Wrap
                    color: Theme.danger
                }
            }

            RowLayout {
                Layout.alignment: Qt.AlignHCenter
                spacing: 10
                Button {
                    objectName: "welcomeOpenFile"
                    text: qsTr("Choose a model file\u2026")
                    icon.source: "qrc:/daub/icons/file.svg"
                    icon.color: Theme.text
                    highlighted: true
                    enabled: !root.loading
                    onClicked: root.pickModelFile()
                }
                Button {
                    text: qsTr("Choose a folder\u2026")
                    icon.source: "qrc:/daub/icons/folder.svg"
                    icon.color: Theme.text
                    enabled: !root.loading
                    onClicked: root.pickModelFolder()
                }
            }
            RowLayout {
                Layout.alignment: Qt.AlignHCenter
                visible: root.loading
                BusyIndicator { running: root.loading; Layout.preferredWidth: 22; Layout.preferredHeight: 22 }
                Label { text: qsTr("Loading the model\u2026"); color: Theme.mutedText }
            }

            RowLayout {
                Layout.fillWidth: true
                Layout.topMargin: 12
                Label {
                    Layout.fillWidth: true
                    text: root.scanning ? qsTr("Looking for models\u2026")
                        : root.foundModels.length > 0 ? qsTr("Found on this computer")
                        : qsTr("No models found in the usual places")
                    font.weight: Font.DemiBold
                    color: Theme.text
                }
                ToolButton {
                    icon.source: "qrc:/daub/icons/search.svg"
                    icon.color: Theme.mutedText
                    enabled: !root.scanning
                    onClicked: root.rescan()
                    ToolTip.visible: hovered
                    ToolTip.text: qsTr("Look again")
                }
            }
            Label {
                Layout.fillWidth: true
                visible: !root.scanning && root.foundModels.length === 0
                wrapMode: Text.Wrap
                color: Theme.mutedText
                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                text: qsTr("Daub looks in AUTOMATIC1111's models/Stable-diffusion, ComfyUI's models/checkpoints, "
                         + "the Hugging Face cache and ~/.local/share/Daub/models. Put a model in one of them, "
                         + "or choose it above.")
            }
            Repeater {
                model: root.foundModels
                delegate: ItemDelegate {
                    required property var modelData
                    Layout.fillWidth: true
                    enabled: !root.loading
                    contentItem: RowLayout {
                        spacing: 10
                        Image {
                            source: modelData.path.endsWith(".safetensors") ? "qrc:/daub/icons/file.svg" : "qrc:/daub/icons/folder.svg"
                            sourceSize: Qt.size(20, 20)
                            opacity: 0.6
                        }
                        ColumnLayout {
                            Layout.fillWidth: true
                            spacing: 0
                            Label { text: modelData.name; color: Theme.text; elide: Text.ElideRight; Layout.fillWidth: true }
                            Label {
                                Layout.fillWidth: true
                                text: modelData.location + " \u00b7 " + root.sizeText(modelData.bytes)
                                color: Theme.mutedText
                                elide: Text.ElideMiddle
                                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                            }
                        }
                        Label { text: qsTr("Load"); color: Theme.accent; font.weight: Font.DemiBold }
                    }
                    background: Rectangle {
                        radius: Theme.smallRadius
                        color: parent.hovered ? Theme.accentSoft : Theme.panel
                        border.color: Theme.border
                    }
                    onClicked: root.modelChosen(modelData.path)
                }
            }
            Item { Layout.preferredHeight: 24 }
        }
    }
}
