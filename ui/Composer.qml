// Where the user writes: a multi-line prompt, an expandable negative
// prompt and Send (Ctrl+Enter). The text stays after sending, so it can be
// tweaked and sent again. Ctrl+V with an image on the clipboard sets the
// init image instead of pasting text (through `pasteImage`).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Pane {
    id: root

    /// The prompt and the negative prompt (bind to the settings).
    property string prompt: ""
    property string negativePrompt: ""
    property bool negativeExpanded: false
    /// False while nothing can run (no model).
    property bool canSend: true
    /// A hint under the prompt ("64×64 · 20 steps · img2img 0.75").
    property string summary: ""
    /// Called on Ctrl+V; returns true when it took an image from the clipboard.
    property var pasteImage: null
    /// function(text) -> {tokens, limit, error} for A1111's token counter
    /// ("42/75", then "90/150"); null hides the counter.
    property var tokenCounter: null
    /// The prompt's count, as tokenCounter gives it.
    readonly property var tokenCount: tokenCounter ? tokenCounter(prompt) : null

    readonly property alias promptArea: promptArea
    readonly property alias negativeArea: negativeArea
    readonly property bool sendEnabled: canSend && prompt.trim().length > 0

    signal promptEdited(string text)
    signal negativePromptEdited(string text)
    signal negativeToggled(bool expanded)
    /// Send was pressed (or Ctrl+Enter).
    signal sendRequested(string prompt, string negativePrompt)

    function send() {
        if (!sendEnabled)
            return false
        root.sendRequested(root.prompt.trim(), root.negativePrompt.trim())
        return true
    }

    function handleKey(event) {
        if ((event.key === Qt.Key_Return || event.key === Qt.Key_Enter)
                && (event.modifiers & Qt.ControlModifier)) {
            root.send()
            event.accepted = true
        } else if (event.matches(StandardKey.Paste) && root.pasteImage && root.pasteImage()) {
            event.accepted = true
        }
    }

    padding: 12
    background: Rectangle {
        color: Theme.panel
        Rectangle {
            width: parent.width
            height: 1
            color: Theme.border
        }
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        // The negative prompt, above the prompt so Send stays in one place.
        RowLayout {
            Layout.fillWidth: true
            visible: root.negativeExpanded
            spacing: 8
            ScrollView {
                Layout.fillWidth: true
                Layout.preferredHeight: Math.min(90, Math.max(38, negativeArea.implicitHeight))
                TextArea {
                    id: negativeArea
                    objectName: "negativeArea"
                    text: root.negativePrompt
                    placeholderText: qsTr("What to keep out of the image (negative prompt)")
                    wrapMode: TextEdit.Wrap
                    selectByMouse: true
                    onTextChanged: if (text !== root.negativePrompt) root.negativePromptEdited(text)
                    Keys.onPressed: (event) => root.handleKey(event)
                    background: Rectangle {
                        radius: Theme.smallRadius
                        color: Theme.base
                        border.color: negativeArea.activeFocus ? Theme.accent : Theme.border
                    }
                }
            }
        }

        RowLayout {
            Layout.fillWidth: true
            spacing: 8

            ScrollView {
                Layout.fillWidth: true
                Layout.preferredHeight: Math.min(160, Math.max(56, promptArea.implicitHeight))
                TextArea {
                    id: promptArea
                    objectName: "promptArea"
                    text: root.prompt
                    placeholderText: qsTr("Describe the image you want\u2026   (Ctrl+Enter sends)")
                    wrapMode: TextEdit.Wrap
                    selectByMouse: true
                    focus: true
                    onTextChanged: if (text !== root.prompt) root.promptEdited(text)
                    Keys.onPressed: (event) => root.handleKey(event)
                    background: Rectangle {
                        radius: Theme.smallRadius
                        color: Theme.base
                        border.color: promptArea.activeFocus ? Theme.accent : Theme.border
                    }
                }
            }

            Button {
                id: sendButton
                objectName: "sendButton"
                Layout.alignment: Qt.AlignBottom
                Layout.preferredHeight: 56
                Layout.preferredWidth: 96
                enabled: root.sendEnabled
                text: qsTr("Send")
                onClicked: root.send()
                ToolTip.visible: hovered
                ToolTip.delay: 600
                ToolTip.text: qsTr("Generate (Ctrl+Enter)")
                background: Rectangle {
                    radius: Theme.smallRadius
                    color: !sendButton.enabled ? Theme.button
                         : sendButton.down ? Qt.darker(Theme.accent, 1.15)
                         : sendButton.hovered ? Qt.lighter(Theme.accent, 1.08) : Theme.accent
                }
                contentItem: Label {
                    text: sendButton.text
                    horizontalAlignment: Text.AlignHCenter
                    verticalAlignment: Text.AlignVCenter
                    font.weight: Font.DemiBold
                    color: sendButton.enabled ? Theme.accentText : Theme.faintText
                }
            }
        }

        RowLayout {
            Layout.fillWidth: true
            spacing: 6
            ToolButton {
                id: negativeToggle
                objectName: "negativeToggle"
                text: qsTr("Negative prompt")
                icon.source: root.negativeExpanded ? "qrc:/daub/icons/chevron-down.svg" : "qrc:/daub/icons/chevron-right.svg"
                icon.width: 14
                icon.height: 14
                icon.color: Theme.mutedText
                palette.buttonText: Theme.mutedText
                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                onClicked: root.negativeToggled(!root.negativeExpanded)
            }
            Label {
                id: tokenLabel
                objectName: "tokenCounter"
                visible: root.tokenCount !== null
                readonly property bool bad: root.tokenCount !== null && root.tokenCount.error !== ""
                text: !root.tokenCount ? "" : bad ? qsTr("prompt syntax?")
                    : root.tokenCount.tokens + "/" + root.tokenCount.limit
                color: bad ? Theme.danger : Theme.faintText
                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                HoverHandler { id: tokenHover }
                ToolTip.visible: tokenHover.hovered
                ToolTip.delay: 500
                ToolTip.text: tip
                readonly property string tip: bad ? root.tokenCount.error : qsTr("Prompt tokens: the text encoder reads 75 at a time; longer prompts are split into chunks of 75 (at a comma when one is near). (word:1.2) weights a word, [word] lowers it, BREAK starts a new chunk.")
            }
            Label {
                Layout.fillWidth: true
                text: root.summary
                elide: Text.ElideRight
                horizontalAlignment: Text.AlignRight
                color: Theme.faintText
                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
            }
        }
    }
}
